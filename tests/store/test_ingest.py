"""The one ingest path on a messy file: bad rows named, good rows stored, ids and text protected;
and the same event stored once whichever path (HTTP, CLI file) it came by."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings, get_settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events, read_event_file
from tests.conftest import REAL_DATA_DIR

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
    return Pseudonymizer(b"test-key-not-secret-32-bytes-long!!")


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


def test_event_ids_are_keyed_and_client_ids_never_stored(tmp_path: Path,
                                                         pseudonymizer: Pseudonymizer) -> None:
    rows = [{"event_id": "jane-2024-05-01-1", "user_id": "1001", "timestamp": "2024-05-01T09:00:00Z",
             "event_type": "view", "item_id": "sku-1"},
            {"user_id": "1001", "timestamp": "2024-05-01T09:01:00Z", "event_type": "view",
             "item_id": "sku-2"}]
    with EventStore() as store:
        report = ingest_events(store, rows, pseudonymizer)
        stored = store.events()
    assert stored["event_id"].str.fullmatch(r"e_[0-9a-f]{32}").all()
    assert stored["event_id"].tolist() == report.event_ids
    assert report.event_ids[0] == pseudonymizer.pseudonymize("jane-2024-05-01-1", "event", length=32)


# -- one event, two paths -------------------------------------------------------------------------
TAOBAO_KEY = "taobao-two-paths-key-not-secret-32-bytes"
TAOBAO_TYPES = {"pv": "view", "cart": "add_to_cart", "fav": "favourite", "buy": "purchase"}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The CLI's settings (from the environment) and the same settings for the service."""
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SHOPINTENT_PSEUDONYM_KEY", TAOBAO_KEY)
    monkeypatch.setenv("SHOPINTENT_ALLOW_DOWNLOAD", "false")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _taobao_rows(limit: int) -> list[list[str]]:
    """The first rows of the real Taobao UserBehavior file: user, item, category, type, epoch s."""
    assert REAL_DATA_DIR is not None
    path = REAL_DATA_DIR / "taobao_userbehavior_head" / "UserBehavior_head84k.csv"
    with path.open(newline="") as handle:
        return [row for _, row in zip(range(limit), csv.reader(handle), strict=False)]


def test_the_same_taobao_events_via_http_and_the_csv_cli_are_stored_once(
    cli_env: Settings, tmp_path: Path
) -> None:
    from tests.serve.conftest import AUTH, make_client

    rows = _taobao_rows(400)
    store_path = tmp_path / "events.duckdb"
    # The shop's CSV: Taobao's own spelling (pv/buy…, unix seconds), no event ids.
    csv_path = tmp_path / "events.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "category_id", "event_type", "timestamp"])
        writer.writerows(rows)
    # The same events as a JSON client spells them: canonical types, ISO-8601 times.
    records = [{"user_id": u, "item_id": i, "category_id": c, "event_type": TAOBAO_TYPES[t],
                "timestamp": datetime.fromtimestamp(int(ts), UTC).isoformat().replace("+00:00", "Z")}
               for u, i, c, t, ts in rows]
    half = len(records) // 2
    with make_client(cli_env, store_path=str(store_path)) as client:
        body = client.post("/v1/events", json={"events": records[:half]}, headers=AUTH).json()
    assert body["stored"] == half
    http_ids = [r["event_id"] for r in body["results"]]

    result = CliRunner().invoke(app, ["store", "ingest", str(csv_path), "--store", str(store_path),
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["accepted"], report["appended"], report["duplicates"]) == (
        len(rows), len(rows) - half, half)

    with make_client(cli_env, store_path=str(store_path)) as client:
        again = client.post("/v1/events", json={"events": records}, headers=AUTH).json()
    assert (again["stored"], again["duplicates"]) == (0, len(records))
    with EventStore(store_path) as store:
        stored = store.events()
    assert len(stored) == len(rows) and stored["event_id"].is_unique
    assert stored["event_id"].tolist()[:half] == http_ids
    assert not set(stored["user_id"]) & {r[0] for r in rows}


def test_cli_refuses_a_store_or_an_export_of_another_key(cli_env: Settings, tmp_path: Path) -> None:
    other = Pseudonymizer(b"someone-elses-key-not-secret-32-bytes")
    foreign_store = tmp_path / "foreign.duckdb"
    export = tmp_path / "foreign.parquet"
    rows = [{"user_id": "1", "timestamp": "2024-05-01T09:00:00Z", "event_type": "view", "item_id": "a"}]
    with EventStore(foreign_store, key_id=other.key_id) as store:
        ingest_events(store, rows, other)
        store.export_parquet(export)
    csv_path = tmp_path / "events.csv"
    csv_path.write_text("user_id,timestamp,event_type,item_id\n1,2024-05-01T09:00:00Z,view,a\n")
    runner = CliRunner()
    mine = Pseudonymizer(TAOBAO_KEY.encode()).key_id

    refused = runner.invoke(app, ["store", "ingest", str(csv_path), "--store", str(foreign_store)])
    assert refused.exit_code == 2
    assert str(foreign_store) in refused.output and other.key_id in refused.output
    assert mine in refused.output

    imported = runner.invoke(app, ["store", "import", str(export), "--store", str(tmp_path / "m.duckdb")])
    assert imported.exit_code == 2
    assert str(export) in imported.output and "shopintent store ingest" in imported.output
    with EventStore(tmp_path / "m.duckdb") as store:
        assert store.count() == 0
