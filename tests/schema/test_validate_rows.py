"""validate_rows: validate_events' rules row by row, with the same verdicts and reasons."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from shopintent.schema.validation import (
    EVENT_COLUMNS,
    RowwiseUnsupported,
    _parse_timestamps,
    _timestamp,
    validate_events,
    validate_rows,
)

NOW = pd.Timestamp("2024-05-01T12:00:00Z")


def _iso_spellings(n: int) -> list[str]:
    """ISO-8601 dates in every spelling the row-wise reader handles itself (and a few more)."""
    rng = random.Random(11)
    zones = ["", "Z", "+08:00", "-05:30", "+00:00", "+14:00", "-12:00"]
    spellings = []
    for _ in range(n):
        when = datetime(1970, 1, 1) + timedelta(seconds=rng.uniform(0, 4.2e9))
        when = when.replace(microsecond=rng.choice([0, 0, 500_000, rng.randrange(10**6)]))
        text = when.isoformat(sep=rng.choice("T "), timespec=rng.choice(
            ["minutes", "seconds", "milliseconds", "microseconds"]))
        date_only = rng.random() < 0.1
        spellings.append(when.date().isoformat() if date_only else text + rng.choice(zones))
    return spellings + ["2017-02-29", "2017-12-03T24:00:00", "2017-12-03T10:00:00.1234567Z",
                        "1899-12-31T23:59:59Z", "2201-01-01"]


def test_iso_dates_are_read_as_the_vectorised_parser_reads_them() -> None:
    spellings = _iso_spellings(1500)
    vectorised = _parse_timestamps(pd.Series(spellings))
    for text, expected in zip(spellings, vectorised, strict=True):
        got = _timestamp(text, "str")
        assert (got is None and pd.isna(expected)) or pd.Timestamp(got) == expected, text


def test_unix_seconds_as_numbers_and_text_are_read_as_the_vectorised_parser_reads_them() -> None:
    rng = random.Random(5)
    seconds = [rng.randrange(0, 5_000_000_000) for _ in range(500)] + [0, 1512295200, -86400]
    for column in (seconds, [str(s) for s in seconds], [float(s) for s in seconds]):
        vectorised = _parse_timestamps(pd.Series(column))
        kind = "str" if isinstance(column[0], str) else "int"
        for value, expected in zip(column, vectorised, strict=True):
            assert pd.Timestamp(_timestamp(value, kind)) == expected, value


MESSY: list[dict[str, Any]] = [
    {"user_id": "1001", "timestamp": "2024-05-01T09:00:00+08:00", "event_type": " PV ",
     "item_id": "sku-1", "price": "19.90", "quantity": 2},
    {"user_id": "  ", "timestamp": 1714550400, "event_type": "view", "item_id": "sku-2"},
    {"user_id": "1002", "timestamp": "not-a-date", "event_type": "teleport"},
    {"user_id": "1002", "timestamp": "2024-05-01T09:05:00Z", "event_type": "search"},
    {"user_id": "1002", "timestamp": 1714550400, "event_type": "buy", "price": -5,
     "quantity": 2.5},
    {"user_id": "1003", "timestamp": "2031-01-01T00:00:00Z", "event_type": "cart",
     "item_id": "sku-9", "price": "abc", "quantity": 0},
    {"user_id": "1003", "timestamp": "1714550400000", "event_type": "view", "item_id": "x"},
    {"timestamp": None, "event_type": None},
]


def test_rejections_equal_validate_events_field_value_and_reason() -> None:
    rows = validate_rows(MESSY, now=NOW)
    table = validate_events(MESSY, now=NOW)
    assert rows.rejections == table.rejections
    assert [(r.row, r.field) for r in rows.rejections][:7] == [
        (2, "user_id"), (3, "event_type"), (3, "timestamp"), (4, "query"), (5, "item_id"),
        (5, "price"), (5, "quantity")]
    assert [r.reason for r in rows.rejections if r.row == 6] == [
        "is not a number", "is less than 1",
        "is 6 years in the future; the limit is 300 s (SHOPINTENT_MAX_FUTURE_SKEW_S)"]
    assert [r.value for r in rows.rejections if r.row == 5 and r.field == "price"] == ["-5"]


def test_an_integer_shows_as_a_float_where_pandas_reads_its_column_as_floats() -> None:
    base = {"user_id": "1", "timestamp": 1714550400, "event_type": "view", "item_id": "a"}
    cases = (([-5, None], "-5.0"), ([-5, 3], "-5"), ([-5, "3"], "-5"), ([-5, 2.5], "-5.0"))
    for prices, shown in cases:
        batch = [{**base, "price": p} for p in prices]
        rows, table = validate_rows(batch, now=NOW), validate_events(batch, now=NOW)
        assert [r.value for r in rows.rejections] == [r.value for r in table.rejections] == [shown]


def test_valid_rows_equal_validate_events_canonical_rows() -> None:
    rows = validate_rows(MESSY, now=NOW)
    table = validate_events(MESSY, now=NOW).valid
    assert rows.positions == [0]
    canonical = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    assert rows.valid == canonical
    assert list(rows.valid[0]) == list(EVENT_COLUMNS)
    assert rows.valid[0]["timestamp"] == datetime(2024, 5, 1, 1, tzinfo=UTC)
    assert (rows.valid[0]["event_type"], rows.valid[0]["price"], rows.valid[0]["quantity"]) == (
        "view", 19.9, 2)


@pytest.mark.parametrize("rows", [
    [{"user_id": 1001, "timestamp": 1714550400, "event_type": "view", "item_id": "a"}],
    [{"user_id": "1", "timestamp": True, "event_type": "view", "item_id": "a"}],
    [{"user_id": "1", "timestamp": 1714550400, "event_type": "view", "item_id": "a",
      "price": 2**60}],
    [{"user_id": "1", "timestamp": 1714550400000, "event_type": "view", "item_id": "a"},
     {"user_id": "1", "timestamp": "2024-05-01", "event_type": "view", "item_id": "a"}],
    [{}],
    ["not a dict"],
], ids=["number-id", "bool", "huge-int", "milliseconds-among-text",
        "all-empty", "not-a-mapping"])
def test_values_only_the_table_decides_are_declined(rows) -> None:
    with pytest.raises(RowwiseUnsupported):
        validate_rows(rows, now=NOW)


@pytest.mark.parametrize("quantity", [float("inf"), float("-inf"), 1e20, -1e20, 2.0**60])
def test_a_count_no_float_holds_is_rejected_on_both_paths_not_raised(quantity: float) -> None:
    rows = [{"user_id": "1", "timestamp": 1714550400, "event_type": "view", "item_id": "a",
             "quantity": quantity},
            {"user_id": "1", "timestamp": 1714550400, "event_type": "view", "item_id": "b"}]
    by_row = validate_rows(rows, now=NOW)
    by_table = validate_events(rows, now=NOW)
    assert by_row.rejections == by_table.rejections
    assert [(r.row, r.field, r.reason) for r in by_table.rejections] == [
        (1, "quantity", "is larger than the largest count (9,007,199,254,740,992)")]
    assert by_row.positions == [1] and len(by_table.valid) == 1


def test_a_batch_of_empty_objects_rejects_each_row_instead_of_losing_them() -> None:
    report = validate_events([{}, {}], now=NOW)
    assert report.n_input == 2 and len(report.valid) == 0
    assert sorted({(r.row, r.field) for r in report.rejections}) == [
        (1, "event_type"), (1, "timestamp"), (1, "user_id"),
        (2, "event_type"), (2, "timestamp"), (2, "user_id")]


def test_a_clock_without_a_zone_is_refused_as_validate_events_refuses_it() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        validate_rows(MESSY, now=datetime(2024, 5, 1))
