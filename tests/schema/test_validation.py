"""Batch validation keeps good events and names the field and row of every bad one."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from shopintent.schema import Event, EventType
from shopintent.schema.validation import (
    DEFAULT_MAX_FUTURE_SKEW_S,
    EVENT_COLUMNS,
    ValidationError,
    validate_event,
    validate_events,
)
from shopintent.settings import Settings


def _good(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "user_id": "u1",
        "timestamp": "2017-11-25T10:00:00Z",
        "event_type": "view",
        "item_id": "i1",
    }
    row.update(overrides)
    return row


def test_bad_rows_are_rejected_with_row_and_field_and_good_rows_kept() -> None:
    batch = [
        _good(),
        {"timestamp": "2017-11-25T10:00:00Z", "event_type": "view", "item_id": "i1"},
        _good(event_type="teleport"),
        _good(price="twelve"),
        _good(timestamp="garbage"),
        _good(user_id="u2", event_type="purchase", price="19.90", quantity="2"),
    ]
    report = validate_events(batch)

    assert report.n_input == 6
    assert report.n_valid == 2
    assert report.rejected_rows == [2, 3, 4, 5]
    messages = [str(r) for r in report.rejections]
    assert messages == [
        "row 2: `user_id` '' is missing",
        "row 3: `event_type` 'teleport' is not an event type "
        "(view, search, add_to_cart, remove_from_cart, favourite, purchase)",
        "row 4: `price` 'twelve' is not a number",
        "row 5: `timestamp` 'garbage' is not a date (ISO-8601 or unix seconds)",
    ]
    assert report.valid["user_id"].tolist() == ["u1", "u2"]
    assert report.valid.loc[1, "price"] == pytest.approx(19.90)
    assert report.valid.loc[1, "quantity"] == 2


def test_valid_table_has_canonical_columns_and_dtypes() -> None:
    report = validate_events([_good()])
    assert list(report.valid.columns) == list(EVENT_COLUMNS)
    assert {c: str(t) for c, t in report.valid.dtypes.items()} == EVENT_COLUMNS


def test_public_log_aliases_map_to_canonical_types() -> None:
    types = ["pv", "cart", "fav", "buy", "favorite", "PURCHASE"]
    report = validate_events([_good(event_type=t) for t in types])
    assert report.valid["event_type"].tolist() == [
        "view", "add_to_cart", "favourite", "purchase", "favourite", "purchase"
    ]


def test_unix_seconds_and_iso_strings_parse_to_the_same_utc_instant() -> None:
    report = validate_events(
        [_good(timestamp=1511544070), _good(timestamp="2017-11-24T17:21:10+00:00")]
    )
    stamps = report.valid["timestamp"].tolist()
    assert stamps[0] == stamps[1] == pd.Timestamp("2017-11-24 17:21:10", tz="UTC")


def test_milliseconds_mistaken_for_seconds_are_rejected_as_out_of_range() -> None:
    report = validate_events([_good(timestamp=1511544070000)])
    assert report.n_valid == 0
    assert report.rejections[0].field == "timestamp"
    assert "outside 1990-2100" in report.rejections[0].reason


def test_item_events_need_an_item_and_searches_need_a_query() -> None:
    report = validate_events(
        [
            _good(item_id=None),
            {"user_id": "u1", "timestamp": 1511544070, "event_type": "search"},
            {"user_id": "u1", "timestamp": 1511544070, "event_type": "search", "query": "红色连衣裙"},
        ]
    )
    assert [(r.row, r.field) for r in report.rejections] == [(1, "item_id"), (2, "query")]
    assert report.valid["query"].tolist() == ["红色连衣裙"]


def test_negative_price_and_fractional_or_zero_quantity_are_rejected() -> None:
    report = validate_events(
        [_good(price=-1), _good(quantity=1.5), _good(quantity=0), _good(price=0, quantity=3)]
    )
    assert [(r.row, r.field, r.reason) for r in report.rejections] == [
        (1, "price", "is negative"),
        (2, "quantity", "is not a whole number"),
        (3, "quantity", "is less than 1"),
    ]
    assert report.n_valid == 1


def test_a_row_with_several_problems_reports_each_field_once_and_counts_once() -> None:
    report = validate_events([{"user_id": " ", "timestamp": "x", "event_type": "?", "price": "p"}])
    assert sorted(r.field for r in report.rejections) == ["event_type", "price", "timestamp", "user_id"]
    assert report.n_rejected == 1


def test_missing_required_column_rejects_every_row_naming_the_column() -> None:
    frame = pd.DataFrame({"user_id": ["a", "b"], "event_type": ["view", "view"], "item_id": ["1", "2"]})
    report = validate_events(frame)
    assert report.n_valid == 0
    assert {(r.row, r.field, r.reason) for r in report.rejections} == {
        (1, "timestamp", "is missing"),
        (2, "timestamp", "is missing"),
    }


def test_validate_event_returns_a_record_or_raises_naming_the_field() -> None:
    event = validate_event(_good(price="3.5", event_type="cart"))
    assert event == Event(
        user_id="u1",
        timestamp=datetime(2017, 11, 25, 10, 0, tzinfo=UTC),
        event_type=EventType.ADD_TO_CART,
        item_id="i1",
        price=3.5,
    )
    with pytest.raises(ValidationError, match="`price` 'abc' is not a number"):
        validate_event(_good(price="abc"))


def test_event_records_validate_like_dicts() -> None:
    record = Event(
        user_id="u9",
        timestamp=datetime(2020, 1, 1, tzinfo=UTC),
        event_type=EventType.PURCHASE,
        item_id="sku-1",
        price=10.0,
        quantity=2,
        event_id="e-1",
    )
    report = validate_events([record])
    assert report.n_valid == 1
    assert report.valid.loc[0, "event_id"] == "e-1"


NOW = pd.Timestamp("2026-06-01T12:00:00Z")


def test_events_dated_beyond_the_skew_are_rejected_naming_row_field_and_limit() -> None:
    batch = [
        _good(timestamp="2099-01-01T00:00:00Z"),
        _good(timestamp="2026-06-01T12:04:59Z"),  # inside the 5-minute skew
        _good(timestamp=NOW.timestamp() + 301),  # one second past it, as unix seconds
        _good(timestamp="2017-11-25T10:00:00Z"),
    ]
    report = validate_events(batch, now=NOW)
    assert report.rejected_rows == [1, 3]
    assert [str(r) for r in report.rejections] == [
        "row 1: `timestamp` '2099-01-01T00:00:00Z' is 72 years in the future; the limit is 300 s "
        "(SHOPINTENT_MAX_FUTURE_SKEW_S)",
        f"row 3: `timestamp` '{NOW.timestamp() + 301}' is 5 minutes in the future; the limit is "
        "300 s (SHOPINTENT_MAX_FUTURE_SKEW_S)",
    ]
    assert report.valid["timestamp"].dt.year.tolist() == [2026, 2017]


def test_the_skew_is_configurable_and_the_past_is_never_limited() -> None:
    hour_ahead = _good(timestamp="2026-06-01T13:00:00Z")
    assert validate_events([hour_ahead], now=NOW, max_future_skew_s=7200).n_valid == 1
    strict = validate_events([hour_ahead], now=NOW, max_future_skew_s=0)
    assert strict.rejections[0].reason.startswith("is 1 hour in the future; the limit is 0 s")
    assert validate_events([hour_ahead], now=NOW, max_future_skew_s=None).n_valid == 1
    assert validate_events([_good(timestamp="1990-01-01T00:00:00Z")], now=NOW,
                           max_future_skew_s=0).n_valid == 1
    with pytest.raises(ValueError, match="max_future_skew_s -1"):
        validate_events([hour_ahead], max_future_skew_s=-1)


def test_the_real_2017_taobao_log_passes_against_the_wall_clock(settings: Settings) -> None:
    # The real 2017 Taobao log passes whole; a date past the 2100 sanity bound keeps its reason.
    from shopintent.datasets import taobao_userbehavior_head as taobao

    events = taobao.load(settings).events
    assert validate_events(events).n_rejected == 0
    report = validate_events([_good(timestamp="2150-01-01")])
    assert [r.reason for r in report.rejections] == [
        "is outside 1990-2100 (milliseconds given as seconds?)"]


def test_the_default_skew_matches_the_setting() -> None:
    assert Settings.model_fields["max_future_skew_s"].default == DEFAULT_MAX_FUTURE_SKEW_S == 300
