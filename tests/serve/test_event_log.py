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
from tests.serve.conftest import REPO_ROOT, taobao_records

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
