"""Rule slots: prices, colours, sizes, quantities and order ids in zh and en, with exact offsets."""

from __future__ import annotations

import pytest

from shopintent.text.rules import extract_rule_slots, number


def _slots(text: str) -> list[tuple[str, str, object]]:
    found = extract_rule_slots(text)
    for slot in found:
        assert text[slot.start : slot.end] == slot.text
    return [(s.label, s.text, s.value) for s in found]


def test_zh_query_gives_colour_price_size_and_quantity() -> None:
    assert _slots("红色连衣裙 200元以内 XL 2件") == [
        ("colour", "红色", "red"),
        ("price", "200元以内", {"max": 200.0, "currency": "CNY"}),
        ("size", "XL", "XL"),
        ("quantity", "2件", 2),
    ]


def test_en_query_gives_price_ceiling_colour_and_size() -> None:
    assert _slots("under $50 navy blue shirt size M") == [
        ("price", "under $50", {"max": 50.0, "currency": "USD"}),
        ("colour", "navy blue", "navy blue"),
        ("size", "size M", "M"),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100到200元的鞋", {"min": 100.0, "max": 200.0, "currency": "CNY"}),
        ("between $20 and $40", {"min": 20.0, "max": 40.0, "currency": "USD"}),
        ("不超过三百块", {"max": 300.0, "currency": "CNY"}),
        ("over 100 euros", {"min": 100.0, "currency": "EUR"}),
        ("预算五百元左右", {"approx": 500.0, "currency": "CNY"}),
        ("costs 1,299 dollars", {"exact": 1299.0, "currency": "USD"}),
    ],
)
def test_price_values_are_normalised(text: str, value: dict[str, object]) -> None:
    prices = [v for label, _, v in _slots(text) if label == "price"]
    assert prices == [value]


def test_order_ids_are_found_without_their_prefix() -> None:
    assert _slots("where is order #12345678?") == [("order_id", "12345678", "12345678")]
    assert _slots("订单号：2023110512345 还没发货") == [
        ("order_id", "2023110512345", "2023110512345")
    ]


def test_numbers_without_units_or_currency_are_not_slots() -> None:
    assert _slots("I need it in 5 minutes") == []
    assert _slots("hello there") == []
    assert _slots("") == []


def test_single_character_zh_colour_needs_a_colour_context() -> None:
    assert _slots("黑客帝国") == []
    assert [v for label, _, v in _slots("想要黑的那款") if label == "colour"] == ["black"]


def test_number_parses_zh_numerals_and_suffixes() -> None:
    assert number("三百五十") == 350.0
    assert number("两") == 2.0
    assert number("2.5k") == 2500.0
    assert number("3万") == 30000.0
    assert number("1,299") == 1299.0
