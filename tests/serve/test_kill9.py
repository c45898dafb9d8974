"""kill -9 the service mid-stream: no acknowledged event is lost, re-sent ones are stored once."""

from __future__ import annotations

from pathlib import Path

from benchmarks.support import kill9_run, numbered_events
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, taobao_records


def test_acknowledged_events_survive_kill_9(settings: Settings, tmp_path: Path) -> None:
    records = numbered_events(taobao_records(settings, 3000), "k9")
    report = kill9_run(settings, records, tmp_path, API_KEY, kill_after_acks=1000, batch_size=50)
    assert report.acknowledged >= 1000
    assert report.acknowledged < len(records)  # it really died mid-stream
    assert report.lost_acknowledged == 0
    # The client re-sent everything: each event is stored exactly once.
    assert report.stored_after_restart == len(records)
    assert report.duplicates_on_resend >= report.acknowledged
    assert report.resent == len(records)
