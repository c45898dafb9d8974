"""The one ingest path on a messy file: bad rows named, good rows stored, ids and text protected."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopintent.privacy import Pseudonymizer
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events, read_event_file

MESSY_CSV = """user_id,session_id,timestamp,event_type,item_id,query,price
1001,web-7,2024-05-01T09:00:00Z,view,sku-1,,
1001,web-7,2024-05-01T09:01:00Z,search,,red dress call me at 13800138000,
,web-7,2024-05-01T09:02:00Z,view,sku-2,,
1002,web-9,2024-05-01T09:03:00Z,teleport,sku-3,,
1002,web-9,not-a-date,view,sku-3,,
1002,web-9,2024-05-01T09:05:00Z,purchase,sku-3,,abc
1002,web-9,2024-05-01T09:06:00Z,purchase,sku-3,,19.90
"""


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(b"test-key-not-secret")


def test_bad_rows_are_named_and_good_rows_land(tmp_path: Path, pseudonymizer: Pseudonymizer) -> None:
    path = tmp_path / "events.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")
    with EventStore() as store:
        report = ingest_events(store, read_event_file(path), pseudonymizer)
        stored = store.events()
    reasons = [str(r) for r in report.rejections]
    assert reasons == [
        "row 3: `user_id` '' is missing",
        "row 4: `event_type` 'teleport' is not an event type "
        "(view, search, add_to_cart, remove_from_cart, favourite, purchase)",
        "row 5: `timestamp` 'not-a-date' is not a date (ISO-8601 or unix seconds)",
        "row 6: `price` 'abc' is not a number",
    ]
    assert (report.input, report.accepted, report.rejected, report.appended) == (7, 3, 4, 3)
    assert stored["event_type"].tolist() == ["view", "search", "purchase"]
    assert stored["price"].iloc[-1] == pytest.approx(19.90)


def test_ids_are_pseudonymised_and_text_scrubbed_before_storage(
    tmp_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")
    with EventStore() as store:
        ingest_events(store, read_event_file(path), pseudonymizer)
        stored = store.events()
    assert set(stored["user_id"]) == {
        pseudonymizer.pseudonymize("1001"), pseudonymizer.pseudonymize("1002")
    }
    assert stored["user_id"].str.startswith("u_").all()
    assert stored["session_id"].str.startswith("s_").all()
    assert "13800138000" not in stored["query"].iloc[1]
    assert "red dress" in stored["query"].iloc[1]


def test_reingesting_the_same_file_stores_nothing_new(tmp_path: Path, pseudonymizer: Pseudonymizer) -> None:
    path = tmp_path / "events.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")
    with EventStore(tmp_path / "s.duckdb") as store:
        ingest_events(store, read_event_file(path), pseudonymizer)
        again = ingest_events(store, read_event_file(path), pseudonymizer)
        assert (again.appended, again.duplicates) == (0, 3)
        assert store.count() == 3
