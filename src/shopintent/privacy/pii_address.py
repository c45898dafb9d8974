"""Street addresses in Chinese and English, by structure rather than word lists.

An address needs a street *and* a house number, plus either an administrative
level (省/市/区/县) or a unit (栋/单元/室) in Chinese, or a capitalised street name
and a street type (Street, Ave, Rd...) in English. Unit words are not names, so
``26 Inch Road Bike`` or ``2 Pack Hard Drive`` stay.

The text is NFKC-normalised first, except for the full-width comma, which the
English rules accept as typed (``350 Fifth Avenue，Apt 5B``).

Known gaps, chosen to avoid false positives: addresses written with Chinese
numerals only (``八十八号``) or all in lower case (``12 main street``) are not
addresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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


def zh_address_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (already NFKC-normalised) that hold a Chinese street address."""
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


# English: house number + 1-4 capitalised name words + street type. Unit words are not names, so
# "26 Inch Road Bike" or "2 Pack Hard Drive" stay; city, state and ZIP/postcode join the
# span when they follow.
_EN_UNIT_WORDS = (
    r"(?i:inch(?:es)?|in|pack|pcs?|pieces?|sets?|pairs?|count|ct|gb|tb|mb|mm|cm|m|km|kg|g|lbs?"
    r"|oz|ft|ml|l|x|w|v|mah|hz|k|ply|pro|max|plus|mini|ultra|hard|flash|usb|ssd|thumb)\b"
)
_EN_NAME = rf"(?:(?!{_EN_UNIT_WORDS})[A-Z][A-Za-z'’-]*\.?|\d{{1,3}}(?:st|nd|rd|th))"
_EN_HOUSE = r"(?<![0-9A-Za-z$¥€£.,，])\d{1,6}(?:-\d{1,6})?[A-Za-z]?"
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
    r"(?:[,，]?[ ]?(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|#)\.?[ ]?#?[A-Za-z0-9-]+)"
)
_EN_CITY = r"(?:[,，][ ]?[A-Z][a-z][A-Za-z.'-]*(?:[ ][A-Z][a-z][A-Za-z.'-]*){0,3})"
_EN_SEP = r"(?:[,，][ ]?|[ ])"
_EN_POST = (
    rf"(?:{_EN_SEP}[A-Z]{{2}}[ ]\d{{5}}(?:-\d{{4}})?"  # US state + ZIP
    rf"|{_EN_SEP}[A-Z]{{1,2}}\d[A-Z\d]?[ ]?\d[A-Z]{{2}})"  # UK postcode
)
_EN_STREET = rf"{_EN_HOUSE}[ ]+(?:{_EN_NAME}[ ]+){{0,3}}{_EN_NAME}[ ]+"
_EN_ADDRESS = re.compile(
    rf"{_EN_STREET}(?:{_EN_STRONG}{_EN_UNIT}?{_EN_CITY}?{_EN_POST}?"
    rf"|{_EN_WEAK}(?:{_EN_UNIT}{_EN_CITY}?{_EN_POST}?|{_EN_CITY}?{_EN_POST}))"
    r"(?![A-Za-z0-9])"
)


def en_address_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (already NFKC-normalised) that hold an English street address."""
    for m in _EN_ADDRESS.finditer(text):
        yield m.start(), m.end()
