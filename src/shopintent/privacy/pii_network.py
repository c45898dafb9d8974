"""IP addresses (v4 and v6), validated by the standard library's ``ipaddress``.

An IP address ties a message to a household or a device, so it is masked. A
candidate must parse as an address (``ipaddress`` rejects octets over 255 and
leading zeros) and stand alone: not glued to letters, digits or further dotted
parts (``1.2.3.4.5`` is not an address). Dotted versions look exactly like IPv4
addresses, so a dotted quad right after a version cue (``version``, ``ver``,
``v``, ``build``, ``firmware``, ``版本``, ``固件``) is kept; ``1.2.3`` has too few
parts to be an address at all, and a quad of single digits (``1.8.8.8``) is a
price or a version far more often than anyone's address.

IPv6 candidates need ``::`` or all eight groups (``12:30:45`` is a time, not an
address), a digit (``a::b`` is a C++ name) and a group of three or more hex
digits (``1::15`` is a mistyped time); a scope (``%eth0``) and an embedded IPv4
tail are allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Final

_IPV4: Final = re.compile(
    r"(?<![0-9A-Za-z.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z]|\.[0-9])"
)
_VERSION_CUE: Final = re.compile(
    r"(?:(?<![a-z])(?:v|ver|version|build|firmware|release|rev)\.?|版本号?|固件)"
    r"[ :=#是为]*\Z",
    re.IGNORECASE,
)
_CUE_WINDOW: Final = 16
_IPV6: Final = re.compile(
    # Not inside a word or a longer address, but after a label's colon ("IP:2001:db8::1").
    r"(?:(?<![0-9A-Za-z:.])|(?<=[^0-9A-Fa-f:]:))[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:\.[0-9]{1,3}){0,3}(?:%[0-9A-Za-z]+)?(?![0-9A-Za-z:])"
)


def ipv4_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (already NFKC-normalised) that hold an IPv4 address."""
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        if max(map(len, m.group().split("."))) == 1:
            continue  # "1.8.8.8" is a price or a version
        if _VERSION_CUE.search(text, max(0, m.start() - _CUE_WINDOW), m.start()):
            continue
        yield m.start(), m.end()


def ipv6_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (already NFKC-normalised) that hold an IPv6 address."""
    for m in _IPV6.finditer(text):
        candidate, start = m.group(), m.start()
        if candidate.startswith(":") and not candidate.startswith("::"):
            candidate, start = candidate[1:], start + 1  # a label's colon: "IP:2001:db8::1"
        if "::" not in candidate and candidate.count(":") < 7:
            continue
        if not any(c.isdigit() for c in candidate) or max(map(len, candidate.split(":"))) < 3:
            continue  # "a::b" is a C++ name, "1::15" a mistyped time
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield start, m.end()
