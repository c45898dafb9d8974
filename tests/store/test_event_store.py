"""The DuckDB event store: idempotent appends, ingest order, its key id, Parquet round trips."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopintent.privacy import Pseudonymizer
from shopintent.schema.validation import validate_events
from shopintent.store import EventStore
from shopintent.store.event_store import KeyMismatch, content_event_ids
from shopintent.store.ingest import ingest_events

KEY = b"store-test-key-not-secret-32-bytes!"
OTHER_KEY = b"another-store-key-not-secret-32-bytes"


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


def _export(tmp_path: Path, key: bytes = KEY, name: str = "events.parquet") -> Path:
    """A real export of RECORDS ingested under ``key``."""
    path = tmp_path / name
    p = Pseudonymizer(key)
    with EventStore(tmp_path / f"source-{p.key_id}.duckdb", key_id=p.key_id) as source:
        ingest_events(source, RECORDS, p)
        assert source.export_parquet(path) == 3
    return path


def test_parquet_export_import_round_trip(tmp_path: Path) -> None:
    key_id = Pseudonymizer(KEY).key_id
    path = _export(tmp_path)
    with EventStore(tmp_path / f"source-{key_id}.duckdb") as source:
        exported = source.events()
    with EventStore(tmp_path / "b.duckdb", key_id=key_id) as target:
        result = target.import_parquet(path)
        assert (result.appended, result.duplicates) == (3, 0)
        assert target.import_parquet(path).duplicates == 3
        imported = target.events()
    columns = [c for c in exported.columns if c != "seq"]
    pd.testing.assert_frame_equal(exported[columns], imported[columns])
    assert imported["user_id"].str.fullmatch(r"u_[0-9a-f]{16}").all()


def test_export_carries_a_format_marker_and_the_key_id(tmp_path: Path) -> None:
    metadata = pq.read_schema(_export(tmp_path)).metadata
    assert metadata[b"shopintent"] == b"events/1"
    assert metadata[b"shopintent_key_id"] == Pseudonymizer(KEY).key_id.encode()
    assert KEY not in b"".join(metadata.values())


def test_store_records_its_key_id_and_refuses_another(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    mine, other = Pseudonymizer(KEY), Pseudonymizer(OTHER_KEY)
    with EventStore(path, key_id=mine.key_id) as store:
        ingest_events(store, RECORDS, mine)
    with EventStore(path) as store:  # read-only use needs no key
        assert store.stored_key_id == mine.key_id and store.count() == 3
    with pytest.raises(KeyMismatch) as opened:
        EventStore(path, key_id=other.key_id)
    message = str(opened.value)
    assert str(path) in message and mine.key_id in message and other.key_id in message
    assert "SHOPINTENT_PSEUDONYM_KEY" in message and "rotate" in message
    with EventStore(path) as store, pytest.raises(KeyMismatch):
        ingest_events(store, RECORDS, other)  # the ingest path checks too
    with EventStore(path, key_id=mine.key_id) as store:
        assert store.count() == 3


def test_a_keyed_store_refuses_rows_without_an_id(tmp_path: Path) -> None:
    with EventStore(tmp_path / "k.duckdb", key_id=Pseudonymizer(KEY).key_id) as store:
        with pytest.raises(ValueError, match=r"row 1: `event_id` is missing"):
            store.append(_valid(RECORDS))
        assert store.count() == 0


def test_import_refuses_a_foreign_parquet_file_naming_it_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "shop.parquet"
    pd.DataFrame({"user_id": ["u1"], "timestamp": ["2024-01-01T00:00:00Z"],
                  "event_type": ["view"], "item_id": ["a"]}).to_parquet(path)
    not_parquet = tmp_path / "events.csv.parquet"
    not_parquet.write_text("user_id,timestamp\n1,2\n")
    with EventStore(key_id=Pseudonymizer(KEY).key_id) as store:
        for bad, reason in ((path, "not a shopintent event export"), (not_parquet, "not a Parquet file")):
            with pytest.raises(ValueError) as refused:
                store.import_parquet(bad)
            assert str(bad) in str(refused.value) and reason in str(refused.value)
            assert "shopintent store ingest" in str(refused.value)
        assert store.count() == 0


def test_import_refuses_an_export_under_another_key(tmp_path: Path) -> None:
    path = _export(tmp_path, key=OTHER_KEY)
    mine = Pseudonymizer(KEY).key_id
    with EventStore(tmp_path / "mine.duckdb", key_id=mine) as store:
        with pytest.raises(KeyMismatch) as refused:
            store.import_parquet(path)
        message = str(refused.value)
        assert str(path) in message and Pseudonymizer(OTHER_KEY).key_id in message and mine in message
        assert "shopintent store ingest" in message
        assert store.count() == 0


def _forged_export(tmp_path: Path, frame: pd.DataFrame) -> Path:
    """A file that claims to be an export under KEY (as an old or edited export would)."""
    path = tmp_path / "forged.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {b"shopintent": b"events/1", b"shopintent_key_id": Pseudonymizer(KEY).key_id.encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def test_imported_text_is_scrubbed_again_and_raw_ids_are_refused(tmp_path: Path) -> None:
    p = Pseudonymizer(KEY)
    row = {"event_id": p.pseudonymize("x", "event", length=32), "user_id": p.pseudonymize("7"),
           "session_id": None, "timestamp": "2024-01-01T00:00:00Z", "event_type": "search",
           "query": "call me at 13800138000", "item_id": "jane.doe@example.com"}
    with EventStore(key_id=p.key_id) as store:
        store.import_parquet(_forged_export(tmp_path, pd.DataFrame([row])))
        stored = store.events()
        assert stored.loc[0, "query"] == "call me at [PHONE]"
        assert stored.loc[0, "item_id"] == "[EMAIL]"
        raw = _forged_export(tmp_path, pd.DataFrame([{**row, "user_id": "jane"}]))
        with pytest.raises(ValueError, match=r"row 1: `user_id` '<hidden>' is not a pseudonym"):
            store.import_parquet(raw)
        assert store.count() == 1


def test_import_rejects_a_broken_file_naming_row_and_field(tmp_path: Path) -> None:
    p = Pseudonymizer(KEY)
    path = _forged_export(tmp_path, pd.DataFrame(
        {"event_id": [p.pseudonymize(i, "event", length=32) for i in "ab"],
         "user_id": [p.pseudonymize("1"), p.pseudonymize("2")],
         "timestamp": ["2024-01-01T00:00:00Z", "garbage"],
         "event_type": ["view", "view"], "item_id": ["a", "b"]}))
    with EventStore(key_id=p.key_id) as store:
        with pytest.raises(ValueError, match=r"1 invalid row\(s\), nothing imported: "
                                             r"row 2: `timestamp` 'garbage'"):
            store.import_parquet(path)
        assert store.count() == 0


def test_file_store_is_durable_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with EventStore(path) as store:
        store.append(_valid(RECORDS))
    with EventStore(path) as store:
        assert store.count() == 3
        assert store.session_aggregates(30)["n_events"].sum() == 3
