"""Phone numbers in (normalised) text, validated by Google's libphonenumber.

The numbering plans of every country change every year; ``phonenumbers`` (the
Python port of libphonenumber) ships them as data, so a number is a phone when
the library finds and validates it (``Leniency.VALID``) for one of the regions a
shop's text comes from: mainland China, the UK and North America. A number
written with ``+`` or ``00`` is validated against its own country.

The library alone is too generous for free text: under the CN plan almost any
10-digit run is a valid landline, and under NANP any 10 digits with a valid area
code are a phone. So a national-format match (no ``+``/``00``) is kept only when
its shape says phone too:

* **CN** -- an 11-digit mobile (``1[3-9]…``, any grouping), or a landline written
  with its trunk ``0`` and area code (``010-12345678``, ``(0755) 8888 8888``).
* **UK** -- written with the trunk ``0`` (``07700 900123``, ``020 7946 0958``).
* **NANP** -- written with separators or brackets (``415-555-0132``,
  ``415.555.0132``, ``415 555 0132``, ``(415) 555-0132``, ``1-800-555-0199``); a
  bare 10-digit run (``4155550132``) only after a phone cue (``call me at``,
  ``tel``, ``phone``, ``电话``…): without one it is more often an order number.
  *Trade-off:* three space-separated numbers that form a valid NANP number are
  masked even when they are a list (``256 512 1024``): a list loses little, a
  phone left behind is a leak.

A phone never continues a word or a longer number (``RTX4090``, ``SKU13800138000``
are codes). Dotted or dashed digit groups glued to a match are masked with it, so
no part of a number is left behind, and an extension (``转 123``, ``ext. 12``,
``x12``, ``#12``, ``分机 12``) joins the span. Known gap: a local number without
its area code (``8888 8888``) is not a phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

#: Regions whose national formats are recognised, in the order they are tried.
REGIONS: Final = ("CN", "GB", "US")

#: Digits joined by the separators phone numbers use, with a leading "+" or bracket.
_NUMBER_REGION: Final = re.compile(r"[+(]?[0-9](?:[ ().\-/]{0,3}[0-9])*\)?")
_GROUP: Final = re.compile(r"[0-9]+")
#: No valid phone in these regions has fewer digits (E.164 numbers are 8-15 long here).
MIN_DIGITS: Final = 8
#: How a window of digit groups starts -> (digit counts its number can have, regions to try).
#: "+" stands for "+" or "00" (15 E.164 digits, plus "00"); "0" a trunk prefix (CN 11-12,
#: UK 10-11); "1" a CN mobile or NANP after its trunk 1; any other digit a NANP number.
_PLANS: Final[dict[str, tuple[range, tuple[str, ...]]]] = {
    "+": (range(MIN_DIGITS, 18), ("CN",)),  # "+" is read alike everywhere; 00 is CN's IDD
    "0": (range(10, 13), ("CN", "GB")),
    "1": (range(11, 12), ("CN", "US")),
    "2": (range(10, 11), ("US",)),
}
#: Characters kept beyond a region's edges for the library's checks: the letter glued to
#: the number (one before), or the ":59" that makes "2017-01-15 14" a time stamp (three
#: after). More before would show it a "+" of the text's arithmetic ("20 + 020 8856 4877").
_CONTEXT_BEFORE: Final = 1
_CONTEXT_AFTER: Final = 3
_INTERNATIONAL: Final = re.compile(r"\(?(?:\+|00)")
_SEPARATED: Final = re.compile(r"[^0-9]")
_CN_MOBILE: Final = re.compile(r"1[3-9][0-9]{9}")
_TRUNK: Final = re.compile(r"\(?0")
_CUE_WINDOW: Final = 24
_PHONE_CUE: Final = re.compile(
    r"(?:(?<![a-z])(?:call|phone|tel|telephone|cell|mobile|text|sms|whatsapp|fax)"
    r"|电话|手机|联系|致电|来电)[^0-9]{0,12}\Z",
    re.IGNORECASE,
)
_EXTENSION: Final = re.compile(r"[ ]?(?:转|分机|ext\.?|x|#)[ ]?[0-9]{1,5}(?![0-9])", re.IGNORECASE)
_JOINERS: Final = ".-"


def _cued(text: str, start: int) -> bool:
    return _PHONE_CUE.search(text, max(0, start - _CUE_WINDOW), start) is not None


def _shape_ok(
    text: str, start: int, raw: str, number: phonenumbers.PhoneNumber, region: str
) -> bool:
    """Whether a library-valid match is written the way a phone of ``region`` is."""
    if _INTERNATIONAL.match(raw):
        return True
    national = str(number.national_number)
    if region == "CN":
        return number.country_code == 86 and (
            _CN_MOBILE.fullmatch(national) is not None or _TRUNK.match(raw) is not None
        )
    if region == "GB":
        return number.country_code == 44 and _TRUNK.match(raw) is not None
    if number.country_code != 1:
        return False
    return _SEPARATED.search(raw) is not None or _cued(text, start)


def _grow(text: str, start: int, end: int) -> tuple[int, int]:
    """Extend a span over digit groups glued to it by '.'/'-' and over an extension."""
    while start > 0 and (
        text[start - 1].isdigit()
        or (text[start - 1] in _JOINERS and start > 1 and text[start - 2].isdigit())
    ):
        start -= 1
    while end < len(text) and (
        text[end].isdigit()
        or (text[end] in _JOINERS and end + 1 < len(text) and text[end + 1].isdigit())
    ):
        end += 1
    extension = _EXTENSION.match(text, end)
    return start, extension.end() if extension else end


def _library_spans(
    text: str, start: int, end: int, region: re.Match[str], regions: tuple[str, ...]
) -> list[tuple[int, int]]:
    """The phone the library finds in all of ``text[start:end]``, if it passes the shape rules.

    The library looks at the characters around a number (a letter glued to it means
    a code, not a phone), so a window that reaches its region's edge keeps a little
    context; inside a region the neighbours are separators and more digits, which
    the library would join back in, so there it gets none.
    """
    offset = max(0, start - _CONTEXT_BEFORE) if start == region.start() else start
    window = text[offset : end + _CONTEXT_AFTER if end == region.end() else end]
    first_digit = start + next(i for i, c in enumerate(text[start:end]) if c.isdigit())
    last_digit = end - next(i for i, c in enumerate(reversed(text[start:end])) if c.isdigit())
    for plan in regions:
        for match in PhoneNumberMatcher(window, plan, leniency=Leniency.VALID):
            match_start, match_end = offset + match.start, offset + match.end
            # Only a number made of the whole window counts: a part the library finds
            # inside it is found again as a shorter window, with its prefix.
            if match_start > first_digit or match_end < last_digit:
                continue
            if _shape_ok(text, match_start, match.raw_string, match.number, plan):
                return [_grow(text, match_start, match_end)]
    return []


def _is_bracketed_trunk(text: str, group: tuple[int, int]) -> bool:
    start, end = group
    return text[start - 1 : end + 1] == "(0)"


def _windows(text: str, region: re.Match[str]) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(start, end, regions) of every run of whole digit groups that could be one phone.

    A run starts at a group, with a "+" or "(" just before it, and ends after a group
    (and its ")"); its digit count must fit how it starts (:data:`_PLANS`). A group
    of one digit only starts a run as a trunk "1" or a country code ("+7") and
    never sits inside one, except the UK's "(0)". Longest first, so a phone is
    taken whole before any part of it.
    """
    groups = [(g.start(), g.end()) for g in _GROUP.finditer(text, region.start(), region.end())]
    counts = [end - start for start, end in groups]
    for first, (group_start, _) in enumerate(groups):
        if counts[first] == 1 and text[group_start] != "1" and "+" not in text[
            max(region.start(), group_start - 2) : group_start
        ]:
            continue  # no phone starts with a lone digit but a trunk 1 or a "+7"-like code
        start = group_start
        while start > region.start() and text[start - 1] in "+(":
            start -= 1
        prefix = text[start:group_start]
        lead = text[group_start]
        kind = "+" if "+" in prefix or text.startswith("00", group_start) else lead
        digits, regions = _PLANS.get(kind, _PLANS["2"])
        total = 0
        ends = []
        for last in range(first, len(groups)):
            if last > first and counts[last] == 1 and not _is_bracketed_trunk(text, groups[last]):
                break  # "199-1 020 3389": a lone digit inside a number ends it, but "(0)"
            total += counts[last]
            if total in digits:
                end = groups[last][1]
                if end < region.end() and text[end] == ")":
                    end += 1
                ends.append(end)
            if total >= digits.stop:
                break
        for end in reversed(ends):
            yield start, end, regions


def phone_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (already NFKC-normalised) that hold a phone number.

    Each digit region long enough to hold a phone is cut into the runs of whole
    digit groups that could be one (so ``138 0013 8000 2件`` and ``qty 2 138 0013
    8000`` are found, and a long review costs no more than its numbers); each run
    is shown to the library for the regions its first digit allows, longest first,
    and the first valid one is taken.
    """
    for region in _NUMBER_REGION.finditer(text):
        if sum(c.isdigit() for c in region.group()) < MIN_DIGITS:
            continue
        taken_until = region.start()
        for start, end, regions in _windows(text, region):
            if start < taken_until:
                continue
            if regions == ("US",) and text[start:end].isdigit() and not _cued(text, start):
                continue  # a bare 10-digit run is a NANP phone only after a cue
            found = _library_spans(text, start, end, region, regions)
            if found:
                yield from found
                taken_until = max(e for _, e in found)
