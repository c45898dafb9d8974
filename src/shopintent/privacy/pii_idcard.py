"""Chinese resident identity card numbers (GB 11643-1999), checked, not guessed.

An 18-character number is 6-digit region + 8-digit birth date + 3-digit sequence
+ check character (0-9 or X), sometimes written 6-8-4 with spaces or dashes. It is
taken only with a real province code, a real past birth date and the right ISO
7064 MOD 11-2 check character: a number with a wrong checksum is left alone.

The 1985-2004 form has 15 digits (2-digit year, no check character): without a
checksum it is taken only right after a cue (``身份证``, ``证件``, ``ID``, ``ID card
no.``), or every 15-digit tracking number would go.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Final

_ID18: Final = re.compile(
    r"(?<![0-9])([1-9][0-9]{5})[ -]?"  # region
    r"((?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"  # birth date
    r"[ -]?([0-9]{3}[0-9Xx])(?![0-9])"  # sequence + check character
)
_ID15: Final = re.compile(
    r"(?:身份证|证件|(?<![A-Za-z])ID(?:[ ]?card)?)(?:号码|号|[ ]?(?:no\.?|number))?"
    r"[ ]?(?:是|为|[:#])?[ ]?"
    r"([1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3})(?![0-9])",
    re.IGNORECASE,
)
# First two digits: the provinces, autonomous regions and municipalities (GB/T 2260),
# plus Taiwan (71), Hong Kong (81) and Macau (82), whose residents' permits share the form.
PROVINCES: Final = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83 91".split()
)
_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK: Final = "10X98765432"


def id_card_check_character(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of an ID number's first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def id_card_checksum_valid(number: str) -> bool:
    """True when an 18-character ID number's last character is its ISO 7064 MOD 11-2 check."""
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()):
        return False
    return id_card_check_character(number[:17]) == number[17].upper()


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        return date(year, month, day) <= date.today()
    except ValueError:  # 0230 and the like
        return False


def id_card_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (already NFKC-normalised) that hold an 18-digit ID number."""
    for m in _ID18.finditer(text):
        region, born, tail = m.groups()
        if (
            region[:2] in PROVINCES
            and _real_date(int(born[:4]), int(born[4:6]), int(born[6:]))
            and id_card_checksum_valid(region + born + tail)
        ):
            yield m.start(), m.end()


def old_id_card_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of 15-digit ID numbers that follow an ID cue."""
    for m in _ID15.finditer(text):
        number = m.group(1)
        born = number[6:12]
        if number[:2] in PROVINCES and _real_date(
            1900 + int(born[:2]), int(born[2:4]), int(born[4:])
        ):
            yield m.start(1), m.end(1)
