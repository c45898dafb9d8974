"""The local durable event log (serve/streams/file_log.py): what publish acknowledged survives a
kill -9 of the writing process, a torn last line is cut off, the offset moves only on ack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shopintent.serve.streams.file_log import FileLogSource, LogFolderBusy
from shopintent.settings import Settings
from tests.serve.conftest import AUTH, REPO_ROOT, make_client, taobao_records

#: A child process that publishes 5 real events per message and prints each acknowledged id.
CHILD = textwrap.dedent("""
    import json, sys
    from shopintent.serve.streams.file_log import FileLogSource
    records = json.load(open(sys.argv[2]))
    source = FileLogSource(sys.argv[1], fsync=sys.argv[3], segment_bytes=16_384)
    for start in range(0, len(records), 5):
        message_id = source.publish(records[start:start + 5], key_id="k1", applied=True)
        print(message_id, start, flush=True)
""")


def _publish_in_child_and_kill(folder: Path, records_file: Path, fsync: str, kill_after: int) -> dict[str, int]:
    """Acknowledged message id -> first record index, read from the child until it is killed."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(records_file), fsync],
                             stdout=subprocess.PIPE, text=True, env=env)
    acked: dict[str, int] = {}
    assert child.stdout is not None
    for line in child.stdout:
        message_id, start = line.split()
        acked[message_id] = int(start)
        if len(acked) >= kill_after:
            child.send_signal(signal.SIGKILL)  # mid-stream: the child is still publishing
            break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return acked


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_acknowledged_messages_survive_kill_9_and_a_torn_line_is_skipped(
    settings: Settings, tmp_path: Path, fsync: str
) -> None:
    records = taobao_records(settings, 3000)
    records_file = tmp_path / "records.json"
    records_file.write_text(json.dumps(records))
    folder = tmp_path / "log"
    acked = _publish_in_child_and_kill(folder, records_file, fsync, kill_after=300)
    segments = sorted(folder.glob("*.jsonl"))
    assert len(segments) > 1  # the child rolled segments on the way
    # A crash in the middle of a write leaves half a line at the end of the last segment.
    with open(segments[-1], "ab") as handle:
        handle.write(b'{"id": 999999, "key_id": "k1", "applied": true, "events": [{"event_id": "e_')

    source = FileLogSource(folder, fsync=fsync)
    try:
        assert source.torn_lines == 1
        messages = source.read(100_000, 0.1)
        got = {m.message_id: m for m in messages}
        assert set(acked) <= set(got)  # every acknowledged message is there, whole
        for message_id, start in acked.items():
            assert got[message_id].events == records[start : start + 5]
            assert got[message_id].key_id == "k1" and got[message_id].applied
        assert [int(m.message_id) for m in messages] == list(range(1, len(messages) + 1))
        assert source.pending() == len(messages)
        source.ack(messages)
        # New messages continue after the last whole one; the torn bytes are gone.
        next_id = source.publish(records[:1])
        assert int(next_id) == len(messages) + 1
        assert [m.message_id for m in source.read(10, 0.1)] == [next_id]
        assert source.skipped_lines == 0
    finally:
        source.close()


def test_offset_moves_only_on_ack_and_the_unacknowledged_tail_is_delivered_again(
    settings: Settings, tmp_path: Path
) -> None:
    records = taobao_records(settings, 40)
    source = FileLogSource(tmp_path / "log", fsync="always")
    ids = [source.publish(records[i : i + 10], key_id="k1") for i in range(0, 40, 10)]
    first = source.read(10, 0.1)
    assert [m.message_id for m in first] == ids and source.pending() == 4
    source.ack(first[:1])
    assert source.committed() == 1 and source.pending() == 3
    # A read before the rest is acknowledged (the sink failed to store them) delivers them again.
    again = source.read(10, 0.1)
    assert [m.message_id for m in again] == ids[1:]
    assert json.loads((tmp_path / "log" / "offset.json").read_text())["id"] == 1
    source.close()

    restarted = FileLogSource(tmp_path / "log", fsync="always")
    try:
        assert restarted.pending() == 3
        assert [m.message_id for m in restarted.unacknowledged()] == ids[1:]
        tail = restarted.read(10, 0.1)
        assert [m.message_id for m in tail] == ids[1:]
        assert [m.events for m in tail] == [records[i : i + 10] for i in range(10, 40, 10)]
        restarted.ack(tail)
        assert restarted.pending() == 0 and restarted.unacknowledged() == []
        assert restarted.read(10, 0.05) == []
    finally:
        restarted.close()


def test_fully_acknowledged_segments_are_deleted(settings: Settings, tmp_path: Path) -> None:
    records = taobao_records(settings, 200)
    folder = tmp_path / "log"
    source = FileLogSource(folder, fsync="everysec", segment_bytes=4096)
    try:
        for i in range(0, 200, 10):
            source.publish(records[i : i + 10])
        assert len(list(folder.glob("*.jsonl"))) > 3
        messages = source.read(100, 0.1)
        assert len(messages) == 20
        source.ack(messages)
        # Only the segment holding the last message (the one being written) is left.
        assert len(list(folder.glob("*.jsonl"))) == 1
        assert source.pending() == 0
    finally:
        source.close()


def test_a_second_process_cannot_open_the_same_log(tmp_path: Path) -> None:
    source = FileLogSource(tmp_path / "log")
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
        opened = subprocess.run(
            [sys.executable, "-c", "import sys; from shopintent.serve.streams.file_log import "
             "FileLogSource; FileLogSource(sys.argv[1])", str(tmp_path / "log")],
            capture_output=True, text=True, env=env, timeout=60)
        assert opened.returncode != 0 and "LogFolderBusy" in opened.stderr
        assert "--stream redis or kafka" in opened.stderr
    finally:
        source.close()
    with pytest.raises(ValueError, match="fsync 'sometimes' is not one of always, everysec"):
        FileLogSource(tmp_path / "other", fsync="sometimes")
    assert LogFolderBusy.__doc__


# -- the service over the file log --------------------------------------------------------------


def _wait(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_wait_store_answers_after_the_sink_stored_the_events(settings: Settings) -> None:
    records = taobao_records(settings, 120)
    with make_client(settings) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        for start in range(0, 120, 40):
            body = client.post("/v1/events?wait=store", json={"events": records[start : start + 40]},
                               headers=AUTH).json()
            assert body["stored"] == 40
            # Read-your-writes: the answer came after the store had them.
            stored = service.gateway.call(lambda store: store.events()).result()
            assert set(r["event_id"] for r in body["results"]) <= set(stored["event_id"])
        ready = client.get("/readyz").json()
        assert (ready["sink"], ready["stream"], ready["log_pending"]) == (True, True, 0)
        assert "shopintent_log_pending_messages 0.0" in client.get("/metrics", headers=AUTH).text
        bad = client.post("/v1/events?wait=disk", json={"events": records[:1]}, headers=AUTH)
        assert bad.status_code == 422


def test_events_acknowledged_before_the_sink_stored_them_reach_the_store_and_stay_duplicates(
    settings: Settings, tmp_path: Path
) -> None:
    records = taobao_records(settings, 300)
    store_path = tmp_path / "events.duckdb"
    with make_client(settings, store_path=store_path, fsync="always") as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        assert service.source.backend == "file"
        assert service.source.folder == tmp_path / "events.duckdb.log"
        service.consumer.stop()  # the sink is behind: nothing reaches DuckDB for now
        first = client.post("/v1/events", json={"events": records[:200]}, headers=AUTH).json()
        assert first["stored"] == 200  # committed to the log: acknowledged
        assert service.gateway.call(lambda store: store.count()).result() == 0
        assert service.log_pending() == 1
        metrics = client.get("/metrics", headers=AUTH).text
        assert "shopintent_log_pending_messages 1.0" in metrics
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["sink"] is False
        service.consumer.start()  # the sink catches up
        _wait(lambda: service.log_pending() == 0)
        assert service.gateway.call(lambda store: store.count()).result() == 200
        service.consumer.stop()
        second = client.post("/v1/events", json={"events": records[200:]}, headers=AUTH).json()
        assert second["stored"] == 100 and service.log_pending() == 1
    # Restarted with 100 acknowledged events still only in the log: they are stored at start,
    # before the histories and live sessions are rebuilt from the store.
    with make_client(settings, store_path=store_path) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        assert service.gateway.call(lambda store: store.count()).result() == 300
        assert service.log_pending() == 0
        assert service.state.count_live() > 0
        again = client.post("/v1/events", json={"events": records}, headers=AUTH).json()
        assert (again["stored"], again["duplicates"]) == (0, 300)  # the restart still knows them
        assert service.gateway.call(lambda store: store.count()).result() == 300


def test_live_events_from_records_equal_those_of_the_stored_rows(settings: Settings) -> None:
    from shopintent.privacy import Pseudonymizer
    from shopintent.serve.state.base import live_events, live_events_from_records
    from shopintent.store import EventStore
    from shopintent.store.ingest import ingest_protected, prepare_records

    prepared = prepare_records(taobao_records(settings, 500), Pseudonymizer.from_settings(settings))
    with EventStore() as store:
        ingest_protected(store, prepared.records, Pseudonymizer.from_settings(settings).key_id)
        from_store = live_events(store.events())
    assert live_events_from_records(prepared.records) == from_store


def test_serve_sink_stores_what_the_log_holds_and_stops_on_sigterm(settings: Settings, tmp_path: Path) -> None:
    import time

    import duckdb

    records = taobao_records(settings, 150)
    store_path = tmp_path / "events.duckdb"
    with make_client(settings, store_path=store_path) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        service.consumer.stop()  # leave the events in the log, for the sink process
        for start in range(0, 150, 50):
            assert client.post("/v1/events", json={"events": records[start : start + 50]},
                               headers=AUTH).json()["stored"] == 50
        assert service.log_pending() == 3
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"),
           "SHOPINTENT_DATA_DIR": str(settings.data_dir), "SHOPINTENT_STATE_DIR": str(settings.state_dir),
           "SHOPINTENT_ALLOW_DOWNLOAD": "false",
           "SHOPINTENT_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value()}  # type: ignore[union-attr]
    sink = subprocess.Popen([sys.executable, "-m", "shopintent.cli.main", "serve", "sink", "--stream",
                             "file", "--state", "memory", "--store", str(store_path), "--no-models"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    offset = store_path.with_name("events.duckdb.log") / "offset.json"
    deadline = time.monotonic() + 60
    while not (offset.exists() and json.loads(offset.read_text())["id"] == 3):
        assert sink.poll() is None and time.monotonic() < deadline, "the sink did not store the log"
        time.sleep(0.1)
    sink.send_signal(signal.SIGTERM)
    output, _ = sink.communicate(timeout=60)
    assert sink.returncode == 0, output
    assert "shopintent store sink: file" in output
    with duckdb.connect(str(store_path), read_only=True) as connection:
        assert connection.execute("SELECT COUNT(*) FROM events").fetchall()[0][0] == 150


def test_the_file_log_holds_only_protected_rows(settings: Settings, tmp_path: Path) -> None:
    from tests.serve.test_streams import PII_EVENT, RAW_VALUES

    store_path = tmp_path / "events.duckdb"
    view = {**PII_EVENT, "event_id": "jane-order-20240501-2", "event_type": "view", "query": None}
    with make_client(settings, store_path=store_path) as client:
        body = client.post("/v1/events?wait=store", json={"events": [PII_EVENT, view]}, headers=AUTH).json()
        streamed = client.post("/v1/events?mode=stream", json={"events": [PII_EVENT]}, headers=AUTH)
        assert body["stored"] == 2 and streamed.status_code == 202
    wire = b"".join(p.read_bytes() for p in (tmp_path / "events.duckdb.log").glob("*.jsonl"))
    assert b"call me at [PHONE] or [EMAIL]" in wire
    for value in RAW_VALUES:
        assert value.encode() not in wire, value


def test_a_graceful_stop_stores_what_the_log_holds_before_closing_the_store(
    settings: Settings, tmp_path: Path
) -> None:
    import duckdb

    records = taobao_records(settings, 400)
    store_path = tmp_path / "events.duckdb"
    with make_client(settings, store_path=store_path) as client:
        for start in range(0, 400, 20):
            client.post("/v1/events", json={"events": records[start : start + 20]}, headers=AUTH)
    with duckdb.connect(str(store_path), read_only=True) as connection:
        assert connection.execute("SELECT COUNT(*) FROM events").fetchall()[0][0] == 400
    offset = json.loads((tmp_path / "events.duckdb.log" / "offset.json").read_text())
    assert offset["id"] == 20  # every message acknowledged
