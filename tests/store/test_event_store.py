"""The DuckDB event store: idempotent appends, ingest order, Parquet round trips."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shopintent.schema.validation import validate_events
from shopintent.store import EventStore
from shopintent.store.event_store import content_event_ids


def _valid(records: list[dict]) -> pd.DataFrame:
    report = validate_events(records)
    assert not report.rejections
    return report.valid


RECORDS = [
    {"user_id": "u1", "timestamp": "2024-01-01T10:00:00Z", "event_type": "view", "item_id": "a"},
    {"user_id": "u1", "timestamp": "2024-01-01T10:01:00Z", "event_type": "cart", "item_id": "a"},
    {"user_id": "u2", "timestamp": "2024-01-01T10:02:00Z", "event_type": "buy", "item_id": "b",
     "price": "9.5", "quantity": "2"},
]


def test_append_is_idempotent_without_client_ids() -> None:
    with EventStore() as store:
        first = store.append(_valid(RECORDS))
        again = store.append(_valid(RECORDS))
        assert (first.appended, first.duplicates) == (3, 0)
        assert (again.appended, again.duplicates) == (0, 3)
        assert store.count() == 3


def test_repeated_identical_clicks_in_one_batch_are_both_kept() -> None:
    twice = _valid([RECORDS[0], RECORDS[0]])
    ids = content_event_ids(twice)
    assert ids.nunique() == 2
    with EventStore() as store:
        assert store.append(twice).appended == 2
        assert store.append(twice).appended == 0


def test_client_event_ids_deduplicate_within_and_across_batches() -> None:
    records = [dict(r, event_id=f"id-{i}") for i, r in enumerate(RECORDS)]
    with EventStore() as store:
        result = store.append(_valid(records + [records[0]]))
        assert (result.appended, result.duplicates) == (3, 1)
        assert store.append(_valid(records[:1])).duplicates == 1


def test_seq_follows_ingest_order_across_batches() -> None:
    with EventStore() as store:
        store.append(_valid(RECORDS[2:]))
        store.append(_valid(RECORDS[:2]))
        events = store.events()
    assert events["seq"].tolist() == sorted(events["seq"].tolist())
    assert events["item_id"].tolist() == ["b", "a", "a"]
    assert events.loc[0, "event_type"] == "purchase" and events.loc[0, "quantity"] == 2


def test_parquet_export_import_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    with EventStore(tmp_path / "a.duckdb") as source:
        source.append(_valid(RECORDS))
        assert source.export_parquet(path) == 3
        exported = source.events()
    with EventStore(tmp_path / "b.duckdb") as target:
        result = target.import_parquet(path)
        assert (result.appended, result.duplicates) == (3, 0)
        assert target.import_parquet(path).duplicates == 3
        imported = target.events()
    columns = [c for c in exported.columns if c != "seq"]
    pd.testing.assert_frame_equal(exported[columns], imported[columns])


def test_import_rejects_a_broken_file_naming_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pd.DataFrame(
        {"user_id": ["u1", "u2"], "timestamp": ["2024-01-01T00:00:00Z", "garbage"],
         "event_type": ["view", "view"], "item_id": ["a", "b"]}
    ).to_parquet(path)
    with EventStore() as store, pytest.raises(ValueError, match=r"row 2: `timestamp` 'garbage'"):
        store.import_parquet(path)


def test_file_store_is_durable_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with EventStore(path) as store:
        store.append(_valid(RECORDS))
    with EventStore(path) as store:
        assert store.count() == 3
        assert store.session_aggregates(30)["n_events"].sum() == 3
