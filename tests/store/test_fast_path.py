"""prepare_records' row-wise fast path gives byte-identical output to the table path.

Each batch is prepared twice, once forced down each path (``FAST_PATH_MAX_ROWS``
patched), and both outcomes -- records, positions, event ids, rejections, or the
exception raised -- are serialised with ``json.dumps`` and compared as strings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shopintent.datasets import taobao_userbehavior_head
from shopintent.privacy import Pseudonymizer
from shopintent.privacy.plant import insert_pii, plant_pii
from shopintent.settings import Settings
from shopintent.store import ingest

PSEUDONYMIZER = Pseudonymizer(b"fast-path-test-key-not-secret-32b!")
#: How far ahead the generated future dates lie past a whole number of days: never near a
#: unit boundary of the "is N days in the future" reason, so both paths word it alike.
_PAST_A_DAY_S = 3 * 3600 + 17 * 60


@contextmanager
def _path(kind: str, *, forbid_table: bool = False) -> Iterator[None]:
    """Force ``prepare_records`` down one path; ``forbid_table`` fails if the rows fall back."""
    threshold = 10**9 if kind == "rows" else 0
    with mock.patch.object(ingest, "FAST_PATH_MAX_ROWS", threshold):
        if not forbid_table:
            yield
            return

        def table(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("the row-wise path fell back to the table")

        with mock.patch.object(ingest, "prepare_events", table):
            yield


def _outcome(batch: Sequence[Mapping[str, Any]], groups: Sequence[int] | None) -> str:
    """Everything ``prepare_records`` says about a batch, as one JSON string."""
    try:
        prepared = ingest.prepare_records(batch, PSEUDONYMIZER, groups)
    except Exception as exc:  # noqa: BLE001 - the table path's errors are part of its output
        return json.dumps(["raised", type(exc).__name__, str(exc)])
    rejections = [[r.row, r.field, r.value, r.reason] for r in prepared.rejections]
    return json.dumps([prepared.records, prepared.positions, prepared.event_ids, rejections,
                       prepared.n_input], sort_keys=False)


def _both(batch: Sequence[Mapping[str, Any]], groups: Sequence[int] | None = None, *,
          rows_only: bool = False) -> tuple[str, str]:
    with _path("table"):
        table = _outcome(batch, groups)
    with _path("rows", forbid_table=rows_only):
        rows = _outcome(batch, groups)
    return table, rows


# --- real rows ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def taobao_rows() -> list[dict[str, Any]]:
    """Six hundred rows of the real Taobao log, as a shop would send them (text fields)."""
    from tests.conftest import REAL_DATA_DIR

    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    raw = taobao_userbehavior_head.read_raw(Settings(data_dir=REAL_DATA_DIR, allow_download=False))
    return [{k: v for k, v in row.items() if not pd.isna(v)}
            for row in raw.head(600).to_dict(orient="records")]


def _shop_batches(rows: list[dict[str, Any]], seed: int) -> Iterator[tuple[list[dict], list[int]]]:
    """The real rows in batches of assorted sizes, each spelled a different way a client might."""
    rng = random.Random(seed)
    sizes = [1, 2, 3, 5, 8, 13, 21, 40, 63]
    start = 0
    while start < len(rows):
        size = rng.choice(sizes)
        batch = [dict(r) for r in rows[start : start + size]]
        start += size
        spelling = rng.choice(["text", "int", "iso+08:00", "iso Z"])
        for i, row in enumerate(batch):
            seconds = int(row["timestamp"])
            if spelling == "int":
                row["timestamp"] = seconds
            elif spelling != "text":
                zone = UTC if spelling == "iso Z" else datetime.now().astimezone().tzinfo
                when = datetime.fromtimestamp(seconds, tz=UTC).astimezone(zone)
                row["timestamp"] = when.isoformat().replace("+00:00", "Z")
            if rng.random() < 0.5:
                row["event_id"] = f"order-{seed}-{start}-{i}"
            if rng.random() < 0.5:
                row["session_id"] = f" web-{row['user_id']} "
            if rng.random() < 0.3:
                row["query"] = insert_pii("red dress size M", plant_pii(rng, 1)[0], rng)
            if rng.random() < 0.2:
                row["price"] = round(rng.uniform(0, 500), 2)
                row["quantity"] = rng.randint(1, 3)
        if len(batch) > 1 and rng.random() < 0.5:  # a retried event, or two identical clicks
            batch.append(dict(rng.choice(batch)))
        groups = sorted(rng.randrange(3) for _ in batch) if rng.random() < 0.4 else None
        yield batch, groups


@pytest.mark.parametrize("seed", [1, 2])
def test_real_taobao_batches_are_byte_identical_on_both_paths(taobao_rows, seed) -> None:
    checked = 0
    for batch, groups in _shop_batches(taobao_rows, seed):
        table, rows = _both(batch, groups, rows_only=True)
        assert rows == table, batch
        checked += len(batch)
    assert checked > len(taobao_rows)


def test_real_rows_keep_their_records_stored_and_rejections(taobao_rows) -> None:
    """The comparison is not vacuous: real rows are kept, out-of-window ones rejected."""
    batch = [dict(r) for r in taobao_rows[:40]] + [
        {**taobao_rows[0], "timestamp": "1511544070000"},  # milliseconds
        {**taobao_rows[0], "event_type": "teleport"}]
    with _path("rows", forbid_table=True):
        prepared = ingest.prepare_records(batch, PSEUDONYMIZER)
    assert len(prepared.records) == 40
    assert [(r.row, r.field, r.reason[:15]) for r in prepared.rejections] == [
        (41, "timestamp", "is outside 1990"), (42, "event_type", "is not an event")]
    assert prepared.records[0]["timestamp"] == datetime.fromtimestamp(
        int(taobao_rows[0]["timestamp"]), tz=UTC).isoformat()
    assert list(prepared.records[0]) == ["event_id", "user_id", "session_id", "timestamp",
                                         "event_type", "item_id", "category_id", "query",
                                         "price", "quantity"]


def test_duplicates_inside_a_request_get_distinct_ids_and_a_retry_the_same(taobao_rows) -> None:
    row = {k: v for k, v in taobao_rows[0].items()}
    with _path("rows", forbid_table=True):
        twice = ingest.prepare_records([row, dict(row)], PSEUDONYMIZER)
        retried = ingest.prepare_records([row], PSEUDONYMIZER)
        grouped = ingest.prepare_records([row, dict(row)], PSEUDONYMIZER, groups=[0, 1])
    assert twice.event_ids[0] != twice.event_ids[1]
    assert retried.event_ids[0] == twice.event_ids[0]
    assert grouped.event_ids[0] == grouped.event_ids[1] == retried.event_ids[0]


def test_threshold_picks_the_path(taobao_rows, monkeypatch) -> None:
    calls: list[int] = []
    real = ingest.prepare_events
    monkeypatch.setattr(ingest, "prepare_events",
                        lambda batch, *a, **k: calls.append(len(batch)) or real(batch, *a, **k))
    monkeypatch.setattr(ingest, "FAST_PATH_MAX_ROWS", 8)
    small = taobao_rows[:7]
    big = taobao_rows[:8]
    ingest.prepare_records(small, PSEUDONYMIZER)
    ingest.prepare_records(big, PSEUDONYMIZER)
    ingest.prepare_records([{**taobao_rows[0], "user_id": 1001}], PSEUDONYMIZER)  # a number id
    assert calls == [len(big), 1]


# --- odd rows ----------------------------------------------------------------------------

_NOW = datetime.now(UTC).replace(microsecond=0)
_TEXT = st.text(st.characters(codec="utf-8"), max_size=8)
_WHITE = st.sampled_from(["", " ", "\t", "\u3000", "\xa0 \n"])
_ID = st.one_of(st.none(), _TEXT, _WHITE, _TEXT.map(lambda t: f"  {t}\t"),
                st.sampled_from(["1001", "web-7", "用户42", "İd"]))
_EVENT_TYPE = st.one_of(
    st.none(), _WHITE, _TEXT,
    st.sampled_from(["view", "pv", " PV ", "Buy", "cart", "search", "purchase", "fav",
                     "favourite", "remove", "teleport", "vİew", "SEARCH\t", "add_to_cart"]))
_DATES = st.datetimes(min_value=datetime(1985, 1, 1), max_value=datetime(2110, 1, 1))
_ZONES = st.sampled_from(["", "Z", "+08:00", "-05:30", "+00:00", "+14:00"])


@st.composite
def _iso(draw: st.DrawFn) -> str:
    when = draw(_DATES)
    if draw(st.booleans()):
        return when.date().isoformat()
    text = when.isoformat(sep=draw(st.sampled_from(["T", " "])), timespec=draw(
        st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"])))
    return text + draw(_ZONES)


@st.composite
def _future(draw: st.DrawFn) -> str | int:
    when = _NOW + timedelta(days=draw(st.integers(1, 40_000)), seconds=_PAST_A_DAY_S)
    return draw(st.sampled_from([when.isoformat(), int(when.timestamp()),
                                 when.isoformat().replace("+00:00", "+03:00")]))


_TIMESTAMP = st.one_of(
    st.none(), _WHITE, _iso(), _future(),
    st.integers(0, 5_000_000_000), st.integers(-10**13, 10**13),
    st.floats(0, 5e9), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(0, 5_000_000_000).map(str), st.integers(-10**14, 10**14).map(str),
    st.sampled_from(["2017-12-03T10:00:00.123456789Z", "2017-02-30", "not a date",
                     "2017-12-03T24:00:00", "1512295200.5", " 2017-12-03 ", "1e9", "2017-W49"]))
_PRICE = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e15, 1e15),
    st.integers(-10**6, 10**6), st.integers(-2**70, 2**70), _WHITE,
    st.floats(-1e6, 1e6).map(repr),
    st.sampled_from(["9.50", "-0", "-0.0", "abc", " 1e3 ", "inf", "NaN", "1_000", "٣", "+5",
                     "12345678901234567890", ".5", "5."]))
_QUANTITY = st.one_of(
    st.none(), st.integers(-3, 5), st.integers(-2**64, 2**64),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([2.0, 2.5, 0.0, 1e20]),
    st.sampled_from(["2", "2.0", "2.5", "x", " ", "0", "-1"]))
#: A value of a type a JSON client can send but the schema does not expect.
_ODD = st.one_of(st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                 st.lists(st.integers(), max_size=2))


def _event(odd: bool) -> st.SearchStrategy[dict[str, Any]]:
    fields = {"event_id": _ID, "user_id": _ID, "session_id": _ID, "timestamp": _TIMESTAMP,
              "event_type": _EVENT_TYPE, "item_id": _ID, "category_id": _ID,
              "query": st.one_of(_ID, st.just("call me at 415-555-0132")),
              "price": _PRICE, "quantity": _QUANTITY}
    if odd:
        fields = {name: st.one_of(values, _ODD) for name, values in fields.items()}
    return st.fixed_dictionaries({}, optional=fields)


@st.composite
def _batch(draw: st.DrawFn, odd: bool) -> tuple[list[dict[str, Any]], list[int] | None]:
    rows = draw(st.lists(_event(odd), max_size=8))
    if rows and draw(st.booleans()):
        rows += [dict(r) for r in draw(st.lists(st.sampled_from(rows), max_size=3))]
    groups = draw(st.one_of(st.none(), st.lists(st.integers(0, 2), min_size=len(rows),
                                                max_size=len(rows))))
    return rows, groups


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batch(odd=False))
# Seconds past int64 nanoseconds beside a fraction: pandas made the column NaT in a batch,
# a wrapped date alone; both paths now call it out of range.
@example(([{"timestamp": 9_223_372_037}, {"timestamp": 1.5}], None))
def test_odd_rows_give_identical_records_ids_and_rejections(case) -> None:
    rows, groups = case
    table, row_wise = _both(rows, groups)
    assert row_wise == table


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batch(odd=True))
def test_wrongly_typed_values_give_identical_outcomes(case) -> None:
    rows, groups = case
    table, row_wise = _both(rows, groups)
    assert row_wise == table


_HTTP_EVENT = st.fixed_dictionaries(
    {"user_id": st.sampled_from(["1001", "web-7", "用户42"]),
     "timestamp": st.one_of(_iso(), _future(), st.integers(0, 5_000_000_000),
                            st.floats(1e9, 2e9)),
     "event_type": _EVENT_TYPE.filter(lambda t: t is not None)},
    optional={"event_id": _TEXT.filter(bool), "session_id": _TEXT.filter(bool),
              "item_id": _TEXT.filter(bool), "query": _TEXT.filter(bool),
              "price": st.floats(-1e15, 1e15), "quantity": st.integers(-2**53, 2**53)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_HTTP_EVENT, min_size=1, max_size=6))
def test_what_the_http_api_accepts_never_leaves_the_row_path(rows) -> None:
    """Every event the API's schema lets through (text ids, numbers typed as the schema
    says) is decided row by row -- no fallback -- and identically."""
    table, row_wise = _both(rows, rows_only=True)
    assert row_wise == table


# --- the store sink's path: rows protected before ----------------------------------------

def _protected_outcome(rows: Sequence[Mapping[str, Any]]) -> str:
    """Everything ``prepare_protected`` says about rows, the stored table spelled as JSON."""
    prepared = ingest.prepare_protected(rows)
    frame = prepared.protected
    table = [frame.dtypes.astype(str).to_dict(),
             frame.astype(object).where(frame.notna(), None).to_dict(orient="records")]
    rejections = [[r.row, r.field, r.value, r.reason] for r in prepared.report.rejections]
    return json.dumps([table, prepared.positions.tolist(), prepared.event_ids, rejections,
                       prepared.report.n_input], default=str)


def test_protected_rows_store_the_same_table_on_both_paths(taobao_rows) -> None:
    """The sink re-checks what the service published: the row path gives the same table,
    ids and rejections as the table path, for clean records and for tampered ones."""
    rng = random.Random(7)
    for batch, groups in _shop_batches(taobao_rows, seed=3):
        records = ingest.prepare_records(batch, PSEUDONYMIZER, groups).records
        records = [dict(r) for r in records]
        for record in records:
            roll = rng.random()
            if roll < 0.05:
                record["user_id"] = "raw-shopper-17"  # not a pseudonym: hidden, rejected
            elif roll < 0.08:
                record["session_id"] = None
            elif roll < 0.1:
                record["query"] = "call me on +44 7700 900123"  # raw text: scrubbed again
            elif roll < 0.12:
                record["event_type"] = "teleport"
        with mock.patch.object(ingest, "FAST_PATH_MAX_ROWS", 0):
            table = _protected_outcome(records)
        with mock.patch.object(ingest, "FAST_PATH_MAX_ROWS", 10**9), \
                mock.patch.object(ingest, "validate_events", side_effect=AssertionError("fell back")):
            rows = _protected_outcome(records)
        assert rows == table


def test_own_records_store_the_table_the_sink_check_would(taobao_rows, tmp_path) -> None:
    """The sink appends the records its own log writer prepared without checking them again
    (``ingest_own_records``): the frame equals what ``prepare_protected`` makes of the same
    records read back from the log, and the stored tables are the same row for row."""
    from shopintent.schema.validation import EVENT_COLUMNS
    from shopintent.store import EventStore

    own_records, logged = [], []
    for batch, groups in _shop_batches(taobao_rows, seed=5):
        records = ingest.prepare_records(batch, PSEUDONYMIZER, groups).records
        own_records.extend(records)
        logged.extend(json.loads(json.dumps(records)))  # as the sink reads them from the log
    assert any(r["query"] for r in own_records) and any(r["price"] is not None for r in own_records)
    pd.testing.assert_frame_equal(ingest.own_records_frame(own_records),
                                  ingest.prepare_protected(logged).protected, check_exact=True)
    tables = []
    for name, ingest_round in (("own", lambda s: ingest.ingest_own_records(s, own_records, PSEUDONYMIZER.key_id)),
                               ("checked", lambda s: ingest.ingest_protected(s, logged, PSEUDONYMIZER.key_id))):
        store = EventStore(tmp_path / f"{name}.duckdb")
        report = ingest_round(store)
        assert report.rejected == 0 and report.appended + report.duplicates == len(own_records)
        columns = ", ".join([*EVENT_COLUMNS, "seq"])  # not the time of storing
        tables.append(store.connection.execute(f"SELECT {columns} FROM events ORDER BY seq").fetchall())
        store.close()
    assert tables[0] == tables[1] and len(tables[0]) > 500
