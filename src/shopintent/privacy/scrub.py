"""Find and mask personal data in free text before it is stored.

Shoppers type personal data into search boxes and chat windows ("寄到北京市朝阳区
建国路88号", "call me at 415-555-0132"). :func:`scrub_text` replaces each piece
with a placeholder -- ``[PHONE]``, ``[EMAIL]``, ``[CARD]``, ``[ID_CARD]`` or
``[ADDRESS]`` -- and leaves everything else, so the text keeps its use for intent
models while the person behind it is no longer named.

The rules lean on structure, not on word lists, and on checksums where a format
has one:

* **Payment cards** must pass the Luhn check *and* start with a card network's
  prefix (IIN). Luhn alone passes one random number in ten, so a long order
  number would often be taken for a card; the prefix rule keeps
  ``订单号 2023112312345678`` (a date-led order id) as it is.
  *Trade-off:* an order number that happens to be 13-19 digits long, start like a
  card (3, 4, 5, 6, 81, 2200-2204 or 2221-2720) and pass Luhn is masked as a card.
  We accept that: losing an order number in analytics costs less than storing a
  card number.
* **Chinese ID numbers** (GB 11643) must have a real province code, a real
  birth date and the right check character; a number with a wrong checksum is
  left alone. The old 15-digit form has no checksum, so it is only taken right
  after a cue such as ``身份证`` or ``ID``.
* **Phone numbers** follow the national numbering plans (CN mobile 1[3-9]x,
  CN area codes, NANP, UK) or an explicit international prefix (``+``/``00``),
  and must hold 8 to 15 digits (the E.164 limit). Numbers glued to other digits
  or letters are not phones (``RTX 4090``, ``113-1234567-1234567``).
* **Addresses** need a street *and* a house number, plus either an
  administrative level (省/市/区/县) or a unit (栋/单元/室) in Chinese, or a
  capitalised street name and a street type (Street, Ave, Rd...) in English.

Where two rules match overlapping text, the union of the spans is masked (with
the more specific kind): masking a few characters too many is better than
leaving half a phone number behind.

Prices (``¥199``, ``$49.99``, ``200元以内``), sizes (``XL``, ``42码``,
``27 inch``), dates (``2023-11-23``), quantities and model numbers
(``iPhone 15 Pro Max 256GB``, ``RTX 4090``) match none of the rules.

Known gaps, chosen to avoid false positives: a bare 10-digit US number with no
separators (``4155550132``) and a local number without its area code
(``8888 8888``) are not phones; addresses written with Chinese numerals only
(``八十八号``) or all in lower case (``12 main street``) are not addresses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import pandas as pd

PHONE: Final = "PHONE"
EMAIL: Final = "EMAIL"
CARD: Final = "CARD"
ID_CARD: Final = "ID_CARD"
ADDRESS: Final = "ADDRESS"

#: Every kind, most specific first: when matches overlap, the first kind here wins.
PII_KINDS: tuple[str, ...] = (EMAIL, ID_CARD, CARD, PHONE, ADDRESS)
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


# Every kind of personal data holds a digit or an "@": text without either is skipped.
_TRIGGER = re.compile(r"[0-9@]")
_NOT_DIGIT = re.compile(r"\D")


def _digit_count(text: str) -> int:
    return len(text) - len(_NOT_DIGIT.findall(text))


# --- e-mail -----------------------------------------------------------------------------
# A pragmatic RFC 5322 subset: the local part's usual characters, a dotted domain and a
# letters-only top-level domain. The look-behind keeps the start on the whole local part,
# so "jane.doe@" is masked whole; Chinese text around the address is never swallowed. A
# digit may follow the top-level domain: in "a@b.com13800138000" both pieces are data.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![A-Za-z-])"
)

# --- phone numbers ----------------------------------------------------------------------
# A phone never continues a word or a longer number: "RTX4090" or "SKU13800138000" are
# codes, and a digit run inside a longer one (an order id) is not a phone.
_NB = r"(?<![0-9A-Za-z+])"
_CN_AREA = r"(?:10|2\d|[3-9]\d{2})"  # 010 Beijing, 02x big cities, 0xxx elsewhere
_PHONE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # CN mobile: 11 digits from 13x-19x, optionally +86/0086, grouped 3-4-4 by space or dash.
    re.compile(rf"{_NB}(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{{4}}){{2}}(?!\d)"),
    # CN landline: area code (0 dropped after +86) then a 7-8 digit number, optional extension.
    re.compile(
        rf"{_NB}(?:(?:\+|00)86[ -]?\(?0?{_CN_AREA}\)?|\(0{_CN_AREA}\)|0{_CN_AREA})"
        r"[ -]?\d{3,4}[ -]?\d{4}(?:[ ]?(?:转|ext\.?|x|#)[ ]?\d{1,5})?(?!\d)"
    ),
    # NANP with the area code in brackets: "(415) 555-0132", "+1 (415) 555-0132".
    re.compile(
        rf"{_NB}(?:\+?1[ .-]?)?\([2-9]\d{{2}}\)[ .-]?[2-9]\d{{2}}[ .-]?\d{{4}}(?!\d)"
    ),
    # NANP after an explicit +1, any grouping: "+1 415 555 0132", "+14155550132".
    re.compile(rf"{_NB}\+1[ .-]?[2-9]\d{{2}}[ .-]?[2-9]\d{{2}}[ .-]?\d{{4}}(?!\d)"),
    # NANP bare: "415-555-0132", "1-800-555-0199". One separator used throughout, and not a
    # space: "256 512 1024" is a list of storage sizes far more often than a phone.
    re.compile(rf"{_NB}(?:1[ .-])?[2-9]\d{{2}}([.-])[2-9]\d{{2}}\1\d{{4}}(?!\d)"),
    # UK national format: London 020, mobiles 07xxx, geographic 01xx(x).
    re.compile(
        rf"{_NB}\(?0(?:20\)?[ ]?\d{{4}}[ ]?\d{{4}}|7\d{{3}}[ ]?\d{{6}}"
        r"|1\d{3}\)?[ ]?\d{6}|1\d{2}\)?[ ]?\d{3}[ ]?\d{4})(?!\d)"
    ),
    # Any country after "+" or "00": "+44 20 7946 0958", "+49 (0)30 1234567".
    re.compile(rf"{_NB}(?:\+|00)[1-9]\d{{0,2}}(?:[ .-]?\(?\d{{1,4}}\)?){{2,6}}(?!\d)"),
)
_PHONE_DIGITS = (8, 15)  # E.164 allows at most 15; no national number here has fewer than 8


def _is_phone(text: str) -> bool:
    return _PHONE_DIGITS[0] <= _digit_count(text) <= _PHONE_DIGITS[1]


# --- payment cards ----------------------------------------------------------------------
# Runs of digits joined by single spaces or dashes ("4111 1111 1111 1111"). Each run is cut
# at its separators; any window of whole groups with 13-19 digits is tried, so a card that
# follows another number ("qty 2 4111 1111 1111 1111") is still found.
_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_RUN_GROUP = re.compile(r"\d+")
_CARD_DIGITS = (13, 19)  # ISO/IEC 7812 primary account numbers
# Network prefixes: Amex/Diners/JCB (3), Visa (4), Mastercard/Maestro (5, 2221-2720),
# Discover/UnionPay/Maestro (6), Mir (2200-2204), UnionPay (81).
_CARD_IIN = re.compile(r"(?:[3-6]|2(?:20[0-4]|22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|81)")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return (
        _CARD_DIGITS[0] <= len(digits) <= _CARD_DIGITS[1]
        and _CARD_IIN.match(digits) is not None
        and luhn_valid(digits)
    )


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() < _CARD_DIGITS[0]:
            continue
        groups = [(g.start(), g.end()) for g in _RUN_GROUP.finditer(text, run.start(), run.end())]
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += text[groups[last][0] : groups[last][1]]
                if len(digits) > _CARD_DIGITS[1]:
                    break
                if _is_card(digits):
                    yield groups[first][0], groups[last][1]


# --- Chinese resident ID numbers (GB 11643-1999) ----------------------------------------
# 6-digit region + 8-digit birth date + 3-digit sequence + check character (0-9 or X),
# sometimes written 6-8-4 with spaces.
_ID18 = re.compile(
    r"(?<!\d)([1-9]\d{5})[ -]?((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))"
    r"[ -]?(\d{3}[0-9Xx])(?!\d)"
)
# The 1985-2004 form has 15 digits (2-digit year, no check character): without a checksum
# it is taken only right after a cue, or every 15-digit tracking number would go.
_ID15 = re.compile(
    r"(?:身份证|证件|(?<![A-Za-z])ID(?:[ ]?card)?)(?:号码|号|[ ]?(?:no\.?|number))?"
    r"[ ]?(?:是|为|[:：#])?[ ]?"
    r"([1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})(?!\d)",
    re.IGNORECASE,
)
# First two digits: the provinces, autonomous regions and municipalities (GB/T 2260),
# plus Taiwan (71), Hong Kong (81) and Macau (82), whose residents' permits share the form.
_ID_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83 91".split()
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_checksum_valid(number: str) -> bool:
    """True when an 18-character ID number's last character is its ISO 7064 MOD 11-2 check."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        return date(year, month, day) <= date.today()
    except ValueError:  # 0230 and the like
        return False


def _id18_spans(text: str) -> Iterator[tuple[int, int]]:
    for m in _ID18.finditer(text):
        region, born, tail = m.groups()
        if (
            region[:2] in _ID_PROVINCES
            and _real_date(int(born[:4]), int(born[4:6]), int(born[6:]))
            and id_card_checksum_valid(region + born + tail)
        ):
            yield m.start(), m.end()


def _id15_spans(text: str) -> Iterator[tuple[int, int]]:
    for m in _ID15.finditer(text):
        number = m.group(1)
        born = number[6:12]
        if number[:2] in _ID_PROVINCES and _real_date(
            1900 + int(born[:2]), int(born[2:4]), int(born[4:])
        ):
            yield m.start(1), m.end(1)


# --- Chinese street addresses -----------------------------------------------------------
# Anchor: a street type followed by a house number ("路88号", "大道100号", "路100弄5号").
# The names in front are read backwards from the anchor, within a short window.
_ZH_ANCHOR = re.compile(
    r"(?:大道|胡同|路|街|道|巷|弄)[ ]?(?P<lane>\d+(?:弄|巷)[ ]?)?\d+(?:[-－]\d+)?[ ]?号"
)
# A Han character that can be part of a place name. Words that usually come right before
# an address ("地址是", "寄到", "送往", "住在") are excluded so the mask starts at the place.
_HAN = r"(?:(?![是在的址到寄送往我你他她请把给住收])[\u4e00-\u9fff])"
_ZH_PROVINCE = (
    r"(?:(?:北京|天津|上海|重庆)市?|(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东"
    r"|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾)省?"
    r"|内蒙古(?:自治区)?|广西(?:壮族自治区)?|西藏(?:自治区)?|宁夏(?:回族自治区)?"
    r"|新疆(?:维吾尔自治区)?|(?:香港|澳门)(?:特别行政区)?)"
)
_ZH_HEAD = re.compile(
    rf"(?P<province>{_ZH_PROVINCE})?"
    rf"(?P<city>{_HAN}{{1,7}}?(?:市|州|盟|地区))?"
    rf"(?P<district>{_HAN}{{1,7}}?(?:区|县|旗))?"
    rf"(?P<town>{_HAN}{{1,7}}?(?:街道|镇|乡))?"
    rf"{_HAN}{{1,12}}\Z"  # the street's own name, up to the anchor
)
_ZH_HEAD_WINDOW = 40
# What may follow the house number: 院, buildings, entrances, floors, rooms.
_ZH_UNITS = re.compile(
    r"院?(?:[ ]?[-－]?[0-9A-Za-z一二三四五六七八九十]+(?:号楼|号院|栋|幢|座|单元|层|楼|室|号|户))*"
)


def _zh_address_spans(text: str) -> Iterator[tuple[int, int]]:
    for anchor in _ZH_ANCHOR.finditer(text):
        window_start = max(0, anchor.start() - _ZH_HEAD_WINDOW)
        head = _ZH_HEAD.search(text, window_start, anchor.start())
        if head is None:
            continue
        units = _ZH_UNITS.match(text, anchor.end())
        end = units.end() if units else anchor.end()
        has_admin = any(head.group(g) for g in ("province", "city", "district", "town"))
        # "知道3号" (the 3rd) has a street-like shape; a real address names a place, a lane
        # (Shanghai's "路100弄5号") or a unit.
        if has_admin or anchor.group("lane") or end > anchor.end() + 1:
            yield head.start(), end


# --- English street addresses -----------------------------------------------------------
# house number + 1-4 capitalised name words + street type. Unit words are not names, so
# "26 Inch Road Bike" or "2 Pack Hard Drive" stay; city, state and ZIP/postcode join the
# span when they follow.
_EN_UNIT_WORDS = (
    r"(?i:inch(?:es)?|in|pack|pcs?|pieces?|sets?|pairs?|count|ct|gb|tb|mb|mm|cm|m|km|kg|g|lbs?"
    r"|oz|ft|ml|l|x|w|v|mah|hz|k|ply|pro|max|plus|mini|ultra|hard|flash|usb|ssd|thumb)\b"
)
_EN_NAME = rf"(?:(?!{_EN_UNIT_WORDS})[A-Z][A-Za-z'’-]*\.?|\d{{1,3}}(?:st|nd|rd|th))"
_EN_HOUSE = r"(?<![0-9A-Za-z$¥€£.,])\d{1,6}(?:-\d{1,6})?[A-Za-z]?"
_EN_STRONG_WORDS = (
    "street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|parkway|pkwy|highway|hwy"
    "|terrace|crescent|cres"
)
# These double as ordinary words ("hard drive", "on the way"): they need a unit or a ZIP.
_EN_WEAK_WORDS = (
    "drive|dr|way|place|pl|court|ct|circle|cir|square|sq|loop|trail|trl|row|close|plaza"
)
_EN_STRONG = rf"(?i:{_EN_STRONG_WORDS})\b\.?"
_EN_WEAK = rf"(?i:{_EN_WEAK_WORDS})\b\.?"
_EN_UNIT = (
    r"(?:,?[ ]?(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|#)\.?[ ]?#?[A-Za-z0-9-]+)"
)
_EN_CITY = r"(?:,[ ]?[A-Z][a-z][A-Za-z.'-]*(?:[ ][A-Z][a-z][A-Za-z.'-]*){0,3})"
_EN_POST = r"(?:,?[ ][A-Z]{2}[ ]\d{5}(?:-\d{4})?|,?[ ][A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2})"
_EN_STREET = rf"{_EN_HOUSE}[ ]+(?:{_EN_NAME}[ ]+){{0,3}}{_EN_NAME}[ ]+"
_EN_ADDRESS = re.compile(
    rf"{_EN_STREET}(?:{_EN_STRONG}{_EN_UNIT}?{_EN_CITY}?{_EN_POST}?"
    rf"|{_EN_WEAK}(?:{_EN_UNIT}{_EN_CITY}?{_EN_POST}?|{_EN_CITY}?{_EN_POST}))"
    r"(?![A-Za-z0-9])"
)


# --- matching ---------------------------------------------------------------------------
def _regex_spans(
    pattern: re.Pattern[str], check: Callable[[str], bool] | None = None
) -> Callable[[str], Iterator[tuple[int, int]]]:
    def spans(text: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(text):
            if check is None or check(m.group()):
                yield m.start(), m.end()

    return spans


# Most texts hold a short number or none: the longest number region of a text lets the
# detectors that cannot match be skipped. Every gate is a necessary condition of its detector.
#: Digits joined by the separators that phone, card and ID patterns allow between digits.
_NUMBER_REGION = re.compile(r"\d(?:[ ().+-]{0,3}\d)*")

_Spans = Callable[[str], Iterator[tuple[int, int]]]
#: (kind, gate on (text, characters in its longest number region), span finder)
_DETECTORS: tuple[tuple[str, Callable[[str, int], bool], _Spans], ...] = (
    (EMAIL, lambda text, _: "@" in text, _regex_spans(_EMAIL)),
    (ID_CARD, lambda _, longest: longest >= 17, _id18_spans),
    (ID_CARD, lambda _, longest: longest >= 15, _id15_spans),
    (CARD, lambda _, longest: longest >= _CARD_DIGITS[0], _card_spans),
    *(
        (PHONE, lambda _, longest: longest >= _PHONE_DIGITS[0], _regex_spans(pattern, _is_phone))
        for pattern in _PHONE_PATTERNS
    ),
    (ADDRESS, lambda text, _: "号" in text, _zh_address_spans),
    (ADDRESS, lambda _, __: True, _regex_spans(_EN_ADDRESS)),
)


def find_pii(text: str) -> list[PiiMatch]:
    """Every piece of personal data in ``text``, sorted by position, never overlapping.

    Overlapping matches are merged into one span labelled with the most specific
    kind (see :data:`PII_KINDS`).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if not _TRIGGER.search(text):
        return []
    longest = max(map(len, _NUMBER_REGION.findall(text)), default=0)
    found = [
        (start, end, kind)
        for kind, applies, spans in _DETECTORS
        if applies(text, longest)
        for start, end in spans(text)
        if end > start
    ]
    found.sort(key=lambda f: (f[0], -f[1]))
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in found:
        if merged and start < merged[-1][1]:
            first, last, best = merged[-1]
            merged[-1] = (first, max(last, end), kind if _RANK[kind] < _RANK[best] else best)
        else:
            merged.append((start, end, kind))
    return [PiiMatch(kind, start, end, text[start:end]) for start, end, kind in merged]


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
    glued to an e-mail). Each pass removes at least one digit or "@", so this ends.
    """
    while True:
        scrubbed = _scrub_once(text)
        if scrubbed == text:
            return scrubbed
        text = scrubbed


def scrub_series(series: pd.Series) -> pd.Series:
    """:func:`scrub_text` over a column; nulls and non-text values are kept as they are.

    Each distinct text is scrubbed once (search logs repeat the same queries many
    times) and texts without a digit or "@" are never examined. The result has the
    input's index, name and dtype.
    """
    if len(series) == 0:
        return series.copy()
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if len(uniques) == 0:
        return series.copy()
    cleaned = np.empty(len(uniques) + 1, dtype=object)
    changed = False
    for i, value in enumerate(uniques):
        new = scrub_text(value) if isinstance(value, str) else value
        changed = changed or new is not value
        cleaned[i] = new
    if not changed:
        return series.copy()
    values = cleaned[codes]
    nulls = codes < 0
    if nulls.any():
        values[nulls] = series.to_numpy(dtype=object)[nulls]
    return pd.Series(values, index=series.index, name=series.name, dtype=series.dtype)
