"""validate_rows' plain lane gives the general loop's verdicts, row for row.

A row of the usual shape (text ids, a known type, unix seconds) is canonicalised in one
call (``_PlainLane``); any other row takes the general loop, which words every rejection.
Each batch here is validated with the lane and with it switched off, and both outcomes
(valid rows, positions, rejections, or the exception) must be equal, and equal to
:func:`validate_events`' table where the rows path decides the batch.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopintent.datasets import taobao_userbehavior_head
from shopintent.schema import validation
from shopintent.schema.validation import validate_events, validate_rows
from shopintent.settings import Settings

NOW = pd.Timestamp("2017-12-04T12:00:00Z")
EAST8 = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def taobao_rows() -> list[dict[str, Any]]:
    """1,000 rows of the real Taobao log in time order (as a shop sends them: text fields)."""
    from tests.conftest import REAL_DATA_DIR

    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    raw = taobao_userbehavior_head.read_raw(Settings(data_dir=REAL_DATA_DIR, allow_download=False))
    ordered = raw.sort_values("timestamp", kind="stable").head(1000)
    return [{k: v for k, v in row.items() if not pd.isna(v)}
            for row in ordered.to_dict(orient="records")]


def _outcome(batch: Sequence[Mapping[str, Any]], *, lane: bool) -> Any:
    """validate_rows' whole answer, with the plain lane on or off."""
    off = mock.patch.object(validation._PlainLane, "row", lambda self, row: None)
    try:
        if lane:
            checked = validate_rows(batch, now=NOW)
        else:
            with off:
                checked = validate_rows(batch, now=NOW)
    except Exception as exc:  # noqa: BLE001 - a refusal is part of the answer
        return ("raised", type(exc).__name__, str(exc))
    return (checked.valid, checked.positions, checked.rejections, checked.n_input)


def _same(batch: list[dict[str, Any]]) -> None:
    with_lane, without = _outcome(batch, lane=True), _outcome(batch, lane=False)
    assert with_lane == without
    if with_lane[0] == "raised":
        return
    table = validate_events(batch, now=NOW)
    assert with_lane[2] == table.rejections
    assert with_lane[0] == table.valid.astype(object).where(table.valid.notna(), None).to_dict(
        orient="records")


def test_real_write_groups_take_the_lane_with_the_general_loops_rows(taobao_rows) -> None:
    for start in range(0, len(taobao_rows), 500):
        batch = [dict(r) for r in taobao_rows[start:start + 500]]
        lane = validation._PlainLane(validation._column_kinds(batch), None, None)
        assert all(lane.row(r) is not None for r in batch)  # the lane does decide them
        _same(batch)
        for row in batch:  # the same instants as numbers, a price and a count
            row["timestamp"] = int(row["timestamp"])
            row["price"] = 19.9
            row["quantity"] = 2
        _same(batch)
        for i, row in enumerate(batch):  # and as ISO-8601 text (how the replay sends them)
            when = datetime.fromtimestamp(row["timestamp"], UTC)
            row["timestamp"] = [when.isoformat(), when.astimezone(EAST8).isoformat(sep=" "),
                                when.replace(tzinfo=None).isoformat(), when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                (when + timedelta(microseconds=i)).isoformat()][i % 5]
        assert all(lane.row(r) is not None for r in batch)
        _same(batch)


def test_rows_the_lane_declines_are_rejected_as_before(taobao_rows) -> None:
    rng = random.Random(5)
    batch = [dict(r) for r in taobao_rows[:400]]
    odd = {"timestamp": ["2031-01-01T00:00:00Z", "not-a-date", " ", "1511539241000"],
           "event_type": ["teleport", " ", "BUY", "İpv"], "user_id": ["  ", None],
           "item_id": [None, " "], "price": [-1.0, float("nan"), "19.90", 2**40],
           "quantity": [0, 2**53, None], "session_id": [" s1 "]}
    bad = sorted(rng.sample(range(len(batch)), 80))
    for i in bad:
        name = rng.choice(sorted(odd))
        batch[i][name] = rng.choice(odd[name])
    _same(batch)


_TEXT = st.one_of(st.none(), st.sampled_from(["", " ", "a", " 17 ", "İ", "x\u3000"]),
                  st.text(max_size=4))
_FIELD = {
    "user_id": _TEXT,
    "event_type": st.one_of(st.sampled_from(["pv", "cart", "fav", "buy", "search", " View ",
                                             "purchase", "nope"]), _TEXT),
    "timestamp": st.one_of(st.integers(-2**34, 2**34), st.sampled_from(
        ["1511539241", "+1511539241", "01511539241", "2017-12-01T00:00:00Z", "",
         "2017-12-01 08:00:00+08:00", "2017-12-01T00:00:00.5", "2017-02-29T00:00:00Z",
         "1899-12-31T23:00:00Z", "2017-12-01", "2024-05-01T12:00:00-05:30", "2099-12-31T23:59:59Z"]),
        st.floats(allow_nan=True), st.none()),
    "item_id": _TEXT, "query": _TEXT, "session_id": _TEXT, "category_id": _TEXT,
    "event_id": _TEXT,
    "price": st.one_of(st.none(), st.integers(-5, 2**54), st.floats(), st.sampled_from(["1.5"])),
    "quantity": st.one_of(st.none(), st.integers(-2, 2**54), st.floats(), st.sampled_from(["2"])),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({}, optional=_FIELD), min_size=1, max_size=6))
def test_generated_rows_equal_with_and_without_the_lane(batch: list[dict[str, Any]]) -> None:
    with_lane, without = _outcome(batch, lane=True), _outcome(batch, lane=False)
    assert with_lane == without
