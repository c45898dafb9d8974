"""Find and mask personal data in free text before it is stored.

Shoppers type personal data into search boxes and chat windows ("寄到北京市朝阳区
建国路88号", "call me at 415-555-0132", "加我微信 jane_88"). :func:`scrub_text`
replaces each piece with a placeholder -- ``[PHONE]``, ``[EMAIL]``, ``[CARD]``,
``[ID_CARD]``, ``[IP]``, ``[QQ]``, ``[WECHAT]`` or ``[ADDRESS]`` -- and leaves
everything else as typed, so the text keeps its use for intent models while the
person behind it is no longer named.

Detection runs on the NFKC-normalised text (:mod:`~shopintent.privacy.normalise`):
full-width digits, letters and ``@`` (``电话１３８００１３８０００``,
``jane＠example.com``) are read as their ASCII forms, and each span found is mapped
back onto the original characters, so only the personal data is replaced.

The rules lean on structure and on checksums or numbering plans where a format
has one; each lives in its own module, whose docstring states it:

* e-mail -- :mod:`~shopintent.privacy.pii_email`
* Chinese ID numbers, GB 11643 checksum (15-digit form after a cue) --
  :mod:`~shopintent.privacy.pii_idcard`
* payment cards, Luhn on the normalised digits plus a network prefix --
  :mod:`~shopintent.privacy.pii_cards`
* phone numbers, validated by ``phonenumbers`` for CN, UK and NANP, any
  country after ``+``/``00`` -- :mod:`~shopintent.privacy.pii_phone`
* IPv4 / IPv6 addresses, validated by ``ipaddress`` -- :mod:`~shopintent.privacy.pii_network`
* WeChat ids and QQ numbers, only after a cue -- :mod:`~shopintent.privacy.pii_messaging`
* street addresses, zh and en -- :mod:`~shopintent.privacy.pii_address`

Where two rules match overlapping text, the union of the spans is masked (with
the more specific kind, see :data:`PII_KINDS`): masking a few characters too many
is better than leaving half a phone number behind.

Prices (``¥199``, ``$49.99``, ``200元以内``), sizes (``XL``, ``42码``,
``27 inch``), dates (``2023-11-23``), quantities, version numbers (``version
1.2.3.4``) and model numbers (``iPhone 15 Pro Max 256GB``, ``RTX 4090``) match
none of the rules.

Every kind needs a digit or an ``@`` (in any width), except a WeChat id, which
needs its cue: a text with none of these is returned at once, unnormalised. That
pre-filter is what keeps :func:`scrub_series` fast on real logs, where most
texts hold no number at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import pandas as pd

from shopintent.privacy.normalise import (
    characters_normalising_to,
    normalise,
)
from shopintent.privacy.pii_address import en_address_spans, zh_address_spans
from shopintent.privacy.pii_cards import CARD_DIGITS, card_spans, luhn_valid
from shopintent.privacy.pii_email import email_spans
from shopintent.privacy.pii_idcard import id_card_checksum_valid, id_card_spans, old_id_card_spans
from shopintent.privacy.pii_messaging import WECHAT_CUES, qq_spans, wechat_spans
from shopintent.privacy.pii_network import ipv4_spans, ipv6_spans
from shopintent.privacy.pii_phone import MIN_DIGITS, phone_spans

__all__ = [
    "ADDRESS", "CARD", "EMAIL", "ID_CARD", "IP", "PHONE", "PII_KINDS", "QQ", "WECHAT",
    "PiiMatch", "find_pii", "id_card_checksum_valid", "luhn_valid", "scrub_series", "scrub_text",
    "scrub_value",
]

PHONE: Final = "PHONE"
EMAIL: Final = "EMAIL"
CARD: Final = "CARD"
ID_CARD: Final = "ID_CARD"
IP: Final = "IP"
QQ: Final = "QQ"
WECHAT: Final = "WECHAT"
ADDRESS: Final = "ADDRESS"

#: Every kind, most specific first: when matches overlap, the first kind here wins.
PII_KINDS: tuple[str, ...] = (EMAIL, ID_CARD, CARD, PHONE, IP, QQ, WECHAT, ADDRESS)
_RANK = {kind: rank for rank, kind in enumerate(PII_KINDS)}


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One piece of personal data: its kind and its ``text[start:end]`` span."""

    kind: str
    start: int
    end: int
    text: str

    @property
    def placeholder(self) -> str:
        """What :func:`scrub_text` writes in its place, e.g. ``[PHONE]``."""
        return f"[{self.kind}]"


# --- the pre-filter, on the raw text ----------------------------------------------------
# A scan for a character class or a substring is cheap; a regex search for several words
# is not. So a non-ASCII text is scanned once for a digit or "@" in any BMP spelling or a
# letter in a non-ASCII spelling (full width), and once for astral characters (emoji,
# mathematical digits), which a fast class cannot hold; only a text with either is
# normalised and checked exactly. Otherwise the cue words are looked up as substrings.
_ASCII_TRIGGER: Final = re.compile(r"[0-9@]")
_ASTRAL: Final = re.compile("[\U00010000-\U0010FFFF]")


@cache
def _interesting() -> re.Pattern[str]:
    chars = "0123456789@" + characters_normalising_to("[0-9@A-Za-z]")
    return re.compile("[" + re.escape("".join(c for c in chars if ord(c) <= 0xFFFF)) + "]")


def _has_cue(lowered: str) -> bool:
    # Spelled out: any() over a generator costs more than these searches.
    return (
        "wx" in lowered or "vx" in lowered or "信" in lowered
        or "wechat" in lowered or "weixin" in lowered
    ) and any(cue in lowered for cue in WECHAT_CUES)


def _may_hold_pii(text: str) -> bool:
    """False only when no detector could match ``text`` (no digit, "@" or WeChat cue)."""
    if text.isascii():
        if text.isdigit():  # an id: personal only if long enough to be a phone number
            return len(text) >= MIN_DIGITS
        return _ASCII_TRIGGER.search(text) is not None or _has_cue(text.lower())
    hit = _interesting().search(text)
    if hit is None:
        if _ASTRAL.search(text) is None:
            return _has_cue(text.lower())
    elif hit.group() in "0123456789@":
        return True
    plain = normalise(text).text
    return _ASCII_TRIGGER.search(plain) is not None or _has_cue(plain.lower())


# --- the detectors, on the normalised text ----------------------------------------------
#: Digits joined by the separators that phone, card and ID numbers allow between digits.
_NUMBER_REGION: Final = re.compile(r"[0-9](?:[ ().+/-]{0,3}[0-9])*")
_LETTER: Final = re.compile("[A-Za-z]")


def _has_qq_cue(text: str) -> bool:
    return "扣扣" in text or "企鹅" in text or "qq" in text.lower()


_Spans = Callable[[str], Iterator[tuple[int, int]]]
#: (kind, gate on (text, characters in its longest number region), span finder). Every
#: gate is a necessary condition of its detector, so skipping on it loses nothing.
_DETECTORS: tuple[tuple[str, Callable[[str, int], bool], _Spans], ...] = (
    (EMAIL, lambda text, _: "@" in text, email_spans),
    (ID_CARD, lambda _, longest: longest >= 17, id_card_spans),
    (ID_CARD, lambda _, longest: longest >= 15, old_id_card_spans),
    (CARD, lambda _, longest: longest >= CARD_DIGITS[0], card_spans),
    (PHONE, lambda _, longest: longest >= MIN_DIGITS, phone_spans),
    (IP, lambda text, longest: longest >= 1 and text.count(".") >= 3, ipv4_spans),
    (IP, lambda text, _: text.count(":") >= 2, ipv6_spans),
    (QQ, lambda text, longest: longest >= 5 and _has_qq_cue(text), qq_spans),
    (WECHAT, lambda text, _: _has_cue(text.lower()), wechat_spans),
    (ADDRESS, lambda text, _: "号" in text, zh_address_spans),
    (ADDRESS, lambda text, longest: longest >= 1 and _LETTER.search(text) is not None,
     en_address_spans),
)


def _merge(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Sorted, non-overlapping spans: overlaps become their union, the rarest kind wins."""
    found.sort(key=lambda f: (f[0], -f[1]))
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in found:
        if merged and start < merged[-1][1]:
            first, last, best = merged[-1]
            merged[-1] = (first, max(last, end), kind if _RANK[kind] < _RANK[best] else best)
        else:
            merged.append((start, end, kind))
    return merged


def _detect(plain: str) -> list[tuple[int, int, str]]:
    """Every detector's spans in the normalised text, unmerged."""
    longest = max(map(len, _NUMBER_REGION.findall(plain)), default=0)
    return [
        (start, end, kind)
        for kind, applies, spans in _DETECTORS
        if applies(plain, longest)
        for start, end in spans(plain)
        if end > start
    ]


def find_pii(text: str) -> list[PiiMatch]:
    """Every piece of personal data in ``text``, sorted by position, never overlapping.

    Spans index the text as given (not its normalised form). Overlapping matches
    are merged into one span labelled with the most specific kind (see
    :data:`PII_KINDS`).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if not _may_hold_pii(text):
        return []
    normalised = normalise(text)
    found = _detect(normalised.text)
    if not found:
        return []
    if normalised.text is not text:
        found = [(*normalised.original_span(s, e), kind) for s, e, kind in _merge(found)]
    return [PiiMatch(kind, start, end, text[start:end]) for start, end, kind in _merge(found)]


def _scrub_once(text: str) -> str:
    matches = find_pii(text)
    if not matches:
        return text
    parts: list[str] = []
    position = 0
    for m in matches:
        parts.append(text[position : m.start])
        parts.append(m.placeholder)
        position = m.end
    parts.append(text[position:])
    return "".join(parts)


def scrub_text(text: str) -> str:
    """``text`` with every piece of personal data replaced by its ``[KIND]`` placeholder.

    Scrubbing repeats until nothing more is found, so ``scrub_text`` is idempotent: a
    placeholder can expose a neighbour that was hidden by what it replaced (a phone
    glued to an e-mail). Each pass replaces at least one character with a
    placeholder that no rule matches, so this ends.
    """
    while True:
        scrubbed = _scrub_once(text)
        if scrubbed == text:
            return scrubbed
        text = scrubbed


def scrub_value(value: object) -> object:
    """:func:`scrub_text` of one cell as :func:`scrub_series` treats it: non-text kept as it is.

    Text that cannot hold personal data (see :func:`_may_hold_pii`) is returned itself,
    unexamined; so is text that scrubbing leaves unchanged.
    """
    if isinstance(value, str) and _may_hold_pii(value):
        new = scrub_text(value)
        return value if new == value else new
    return value


def scrub_series(series: pd.Series) -> pd.Series:
    """:func:`scrub_text` over a column; nulls and non-text values are kept as they are.

    This is what ingest runs on every free-text column of every batch, so it is
    built for throughput: each distinct text is scrubbed once (search logs repeat
    the same queries many times) and texts without a digit, an "@" or a WeChat cue
    are never normalised or examined. The result has the input's index, name and
    dtype.
    """
    if len(series) == 0:
        return series.copy()
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if len(uniques) == 0:
        return series.copy()
    cleaned = np.empty(len(uniques) + 1, dtype=object)
    changed = False
    for i, value in enumerate(uniques):
        new = scrub_value(value)
        changed = changed or new is not value
        cleaned[i] = new
    if not changed:
        return series.copy()
    values = cleaned[codes]
    nulls = codes < 0
    if nulls.any():
        values[nulls] = series.to_numpy(dtype=object)[nulls]
    return pd.Series(values, index=series.index, name=series.name, dtype=series.dtype)
