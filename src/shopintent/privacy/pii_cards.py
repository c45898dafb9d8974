"""Payment card numbers: Luhn-valid digits that start with a card network's prefix.

Luhn alone passes one random number in ten, so a long order number would often
be taken for a card; the prefix (IIN) rule keeps ``订单号 2023112312345678`` (a
date-led order id) as it is. *Trade-off:* an order number that happens to be
13-19 digits long, start like a card (3, 4, 5, 6, 81, 2200-2204 or 2221-2720) and
pass Luhn is masked as a card. We accept that: losing an order number in
analytics costs less than storing a card number.

The digits are read after NFKC normalisation, so ``４１１１ １１１１ …`` is checked
like ``4111 1111 …``; groups may be joined by single spaces or dashes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

#: ISO/IEC 7812 primary account numbers are 13 to 19 digits long.
CARD_DIGITS: Final = (13, 19)
# Runs of digits joined by single spaces or dashes ("4111 1111 1111 1111"). Each run is cut
# at its separators; any window of whole groups with 13-19 digits is tried, so a card that
# follows another number ("qty 2 4111 1111 1111 1111") is still found.
_DIGIT_RUN: Final = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_RUN_GROUP: Final = re.compile(r"[0-9]+")
# Network prefixes: Amex/Diners/JCB (3), Visa (4), Mastercard/Maestro (5, 2221-2720),
# Discover/UnionPay/Maestro (6), Mir (2200-2204), UnionPay (81).
_CARD_IIN: Final = re.compile(
    r"(?:[3-6]|2(?:20[0-4]|22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)|81)"
)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """True for 13-19 ASCII digits with a card network's prefix that pass Luhn."""
    return (
        CARD_DIGITS[0] <= len(digits) <= CARD_DIGITS[1]
        and digits.isascii()
        and digits.isdigit()
        and _CARD_IIN.match(digits) is not None
        and luhn_valid(digits)
    )


def card_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (already NFKC-normalised) that hold a payment card number."""
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() < CARD_DIGITS[0]:
            continue
        groups = [(g.start(), g.end()) for g in _RUN_GROUP.finditer(text, run.start(), run.end())]
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += text[groups[last][0] : groups[last][1]]
                if len(digits) > CARD_DIGITS[1]:
                    break
                if is_card_number(digits):
                    yield groups[first][0], groups[last][1]
