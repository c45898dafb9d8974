"""The store sink's records go to Arrow directly: the same table and stored rows as via pandas.

``ingest_own_records`` appends the log writer's records through :func:`records_table` and
:meth:`EventStore.append_table`; before, through ``own_records_frame`` and
:meth:`EventStore.append`. Both are run here on real Taobao records prepared by the
writer's own path, with duplicates in the batch and of stored rows, and compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings
from shopintent.store import ingest
from shopintent.store.event_store import EventStore, records_table
from shopintent.store.tables import events_to_arrow

PSEUDONYMIZER = Pseudonymizer(b"records-table-test-key-not-secret!")


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    """800 real Taobao events as the writer publishes them (validated, protected, keyed ids),
    with a price and a count on some and a search among them."""
    from tests.conftest import REAL_DATA_DIR

    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    raw = taobao_userbehavior_head.read_raw(Settings(data_dir=REAL_DATA_DIR, allow_download=False))
    rows = [{k: v for k, v in row.items() if not pd.isna(v)}
            for row in raw.head(800).to_dict(orient="records")]
    for i, row in enumerate(rows):
        if i % 7 == 0:
            row["price"], row["quantity"] = 19.9 + i, 1 + i % 3
        if i % 11 == 0:
            row["price"] = 0
    rows[5] = {**rows[5], "event_type": "search", "query": "red shoes for mum", "item_id": None}
    prepared = ingest.prepare_records(rows, PSEUDONYMIZER, max_future_skew_s=None)
    assert not prepared.rejections
    return prepared.records


def _stored(store: EventStore) -> pd.DataFrame:
    return store.events()


def test_the_table_equals_the_frame_path(records) -> None:
    table = records_table(records)
    assert table is not None
    assert table.equals(events_to_arrow(ingest.own_records_frame(records)), check_metadata=False)


def test_stored_rows_equal_through_both_paths(records, tmp_path: Path) -> None:
    batch = [*records[:500], *records[100:150]]  # ids repeated within the batch
    later = records[450:]  # 50 of them stored already
    stores = {}
    for name in ("table", "frame"):
        store = EventStore(tmp_path / f"{name}.duckdb", key_id=PSEUDONYMIZER.key_id)
        results = []
        for part in (batch, later):
            if name == "table":
                results.append(store.append_table(records_table(part)))
            else:
                results.append(store.append(ingest.own_records_frame(part)))
        stores[name] = (results, _stored(store))
        store.close()
    (table_results, table_rows), (frame_results, frame_rows) = stores["table"], stores["frame"]
    assert table_results == frame_results
    assert [(r.appended, r.duplicates) for r in table_results] == [(500, 50), (300, 50)]
    pd.testing.assert_frame_equal(table_rows, frame_rows)


def test_records_of_another_shape_take_the_frame(records) -> None:
    assert records_table([]) is None
    for change in ({"event_id": None}, {"price": float("nan")}, {"quantity": 2.0},
                   {"user_id": 17}):
        assert records_table([{**records[0], **change}, records[1]]) is None


def test_ingest_own_records_reports_and_stores_as_before(records, tmp_path: Path) -> None:
    store = EventStore(tmp_path / "own.duckdb", key_id=PSEUDONYMIZER.key_id)
    report = ingest.ingest_own_records(store, records[:300], PSEUDONYMIZER.key_id)
    assert (report.input, report.accepted, report.appended, report.duplicates) == (300, 300, 300, 0)
    again = ingest.ingest_own_records(store, records[250:350], PSEUDONYMIZER.key_id)
    assert (again.appended, again.duplicates) == (50, 50)
    assert store.events()["event_id"].tolist() == [r["event_id"] for r in records[:350]]
    store.close()
