"""NFKC-normalise text for PII detection, keeping a map back to the text as typed.

Shoppers on phones and Chinese input methods type full-width characters:
``电话１３８００１３８０００`` or ``jane＠example.com``. NFKC folds them to ASCII, so
the detectors only need to know one spelling of a digit, a letter or an ``@``. But
the scrubbed text must keep everything else exactly as typed, so the spans found
in the normalised text are mapped back onto the original characters.

Normalisation is done one character at a time: ``normalise(text).text`` is the
concatenation of each character's NFKC form. That differs from whole-string NFKC
only for combining sequences (an ``e`` followed by a combining accent stays two
characters), which never matter to a digit, a separator or an e-mail address, and
it makes the index map exact: every normalised character comes from exactly one
original character. On top of NFKC, dash look-alikes (``‐ – — −``) become ``-``
and invisible format characters (zero-width space, soft hyphen, word joiner) are
dropped, so a zero-width space inside ``13800138000`` cannot hide a phone number.

Only characters whose normal form the detectors read are folded: those that
become ASCII letters, digits, the separators of numbers and addresses
(``@ . : ( ) + - / # % _ ' $`` and space) or Han characters. Full-width
punctuation no rule reads (``，。！？；``) stays as typed; that keeps the
common Chinese sentence, full of ``，``, out of the slow path.

>>> n = normalise("电话１３８－００１３")
>>> n.text
'电话138-0013'
>>> n.original_span(2, 10)
(2, 10)
>>> normalise("jane＠example.com，谢谢").text
'jane@example.com，谢谢'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Final

#: Dashes that NFKC leaves alone but people type between digit groups.
_DASHES: Final = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58"
#: Invisible characters that could split a number without being seen.
_INVISIBLE: Final = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
#: A normal form holding one of these is read by some detector (see the module docstring).
_READ_BY_DETECTORS: Final = re.compile(r"[0-9A-Za-z@.:()+\-/#%_ '$\u4e00-\u9fff]")


@cache
def fold_table() -> dict[str, str]:
    """Every character that normalisation changes, and what it becomes.

    Built once per process (well under a second): a scan of all code points for
    the ones NFKC changes into something a detector reads, plus the dashes and the
    invisible characters.
    """
    table: dict[str, str] = {}
    for code in range(0x80, 0x110000):
        if 0xD800 <= code < 0xE000:  # surrogates are not characters
            continue
        char = chr(code)
        if not unicodedata.is_normalized("NFKC", char):
            table[char] = unicodedata.normalize("NFKC", char)
    for char in _DASHES:
        table[char] = "-"
    for char in _INVISIBLE:
        table[char] = ""
    # NFKC maps some characters onto a dash or an invisible one; fold those through.
    folded = {char: "".join(table.get(c, c) for c in form) for char, form in table.items()}
    return {
        char: form
        for char, form in folded.items()
        if form == "" or _READ_BY_DETECTORS.search(form) is not None
    }


@cache
def characters_normalising_to(pattern: str) -> str:
    """The non-ASCII characters whose normal form contains a match of ``pattern``.

    ``characters_normalising_to("[0-9@]")`` holds ``１``, ``＠``, ``①``, ``²`` and the
    like: with the ASCII class itself it is the pre-filter for digits and ``@``.
    """
    regex = re.compile(pattern)
    return "".join(sorted(c for c, form in fold_table().items() if regex.search(form)))


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """A text's normalised form and the way back to the original characters."""

    original: str
    text: str

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of original characters that produced ``text[start:end]``.

        A normalised span that covers part of one character's expansion (``㎏`` →
        ``kg``) maps to the whole original character: a mask may grow, never shrink.
        """
        if self.text is self.original:
            return start, end
        ends = _ends(self.original)  # ends[i]: normalised length after i+1 characters
        first = _first_index_reaching(ends, start + 1)
        last = _first_index_reaching(ends, end)
        return first, last + 1


def _ends(original: str) -> list[int]:
    table = fold_table()
    return list(accumulate(len(table.get(c, c)) for c in original))


def _first_index_reaching(ends: list[int], target: int) -> int:
    """The first character whose normalised end is at least ``target`` (binary search)."""
    low, high = 0, len(ends) - 1
    while low < high:
        middle = (low + high) // 2
        if ends[middle] >= target:
            high = middle
        else:
            low = middle + 1
    return low


_ASTRAL: Final = re.compile("[\U00010000-\U0010FFFF]")


@cache
def _folded_bmp() -> re.Pattern[str]:
    """The BMP characters that normalisation changes, as one (fast) character class."""
    codes = sorted(ord(c) for c in fold_table() if ord(c) <= 0xFFFF)
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return re.compile(
        "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]"
    )


def normalise(text: str) -> NormalisedText:
    """``text`` with every character a detector reads in its NFKC form.

    Built for throughput: ASCII text and text with nothing to fold (one scan of a
    character class) are returned as they are; otherwise only the characters that
    change are replaced. A regex class is fast only over the BMP, so a text with an
    astral character (an emoji, a mathematical digit) is folded one by one.
    """
    if text.isascii():
        return NormalisedText(text, text)
    if _ASTRAL.search(text) is not None:
        return normalise_by_character(text)
    folded = _folded_bmp()
    if folded.search(text) is None:
        return NormalisedText(text, text)
    table = fold_table()
    return NormalisedText(text, folded.sub(lambda m: table[m.group()], text))


def normalise_by_character(text: str) -> NormalisedText:
    """The same normal form, built one character at a time (any text, slower)."""
    table = fold_table()
    folded = "".join(table.get(c, c) for c in text)
    return NormalisedText(text, text if folded == text else folded)
