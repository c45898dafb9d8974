"""``shopintent serve`` as a process and ``serve replay`` streaming real Taobao events into it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from benchmarks.support import ServiceProcess
from shopintent.cli.main import app
from shopintent.serve.replay import LOOP_GAP_S, event_seconds, replay, shifted_pass, taobao_stream
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, AUTH


def test_serve_help_lists_its_options_and_replay() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for word in ("--host", "--port", "--stream", "--replay-rate", "replay"):
        assert word in result.output


def test_replay_streams_taobao_in_time_order_is_idempotent_and_loops_with_new_events(
        settings: Settings, tmp_path: Path) -> None:
    records = taobao_stream(settings, 600)
    times = [r["timestamp"] for r in records]
    assert times == sorted(times) and len({r["event_id"] for r in records}) == 600
    service = ServiceProcess(settings, tmp_path / "replay.duckdb", API_KEY, ["--no-models"])
    service.start()
    try:
        first = replay(service.url, API_KEY, records, rate=3000, batch_size=100)
        assert (first.sent, first.stored, first.rejected, first.failed_requests) == (600, 600, 0, 0)
        assert first.seconds >= 600 / 3000 * 0.9  # paced, not flooded
        again = replay(service.url, API_KEY, records, rate=5000, batch_size=200)
        assert (again.stored, again.duplicates) == (0, 600)
        dashboard = httpx.get(service.url + "/v1/dashboard", headers=AUTH).json()
        assert dashboard["events"]["stored"] == 600 and dashboard["live_sessions"] > 0
        # Two loop passes: the first is the log again (all duplicates), the second is the
        # same slice moved later with fresh ids, so it is stored: twice the slice in all.
        looped = replay(service.url, API_KEY, records, rate=5000, batch_size=200, loop=True,
                        max_passes=2)
        assert (looped.passes, looped.sent, looped.duplicates, looped.stored, looped.rejected) == (
            2, 1200, 600, 600, 0)
        dashboard = httpx.get(service.url + "/v1/dashboard", headers=AUTH).json()
        assert dashboard["events"]["stored"] == 1200 and dashboard["live_sessions"] > 0
        # A loop stops before a pass dated in the future (the service would reject it).
        recent = [{**r, "event_id": f"now-{i}", "timestamp": time.time() - 600 + i}
                  for i, r in enumerate(records[:10])]
        endless = replay(service.url, API_KEY, recent, rate=5000, loop=True)
        assert (endless.passes, endless.sent, endless.stored) == (1, 10, 10)
    finally:
        service.stop()


def test_each_loop_pass_moves_the_log_by_its_span_plus_a_gap_with_fresh_ids(
        settings: Settings) -> None:
    records = taobao_stream(settings, 50)
    seconds = event_seconds(records)
    period = float(seconds.max() - seconds.min()) + LOOP_GAP_S
    assert shifted_pass(records, seconds, 0, 0.0) is records
    second = shifted_pass(records, seconds, 2, 2 * period)
    assert [r["event_id"] for r in second] == [f"{r['event_id']}~2" for r in records]
    moved = event_seconds(second) - seconds
    assert moved.tolist() == pytest.approx([2 * period] * 50)
    assert {k: v for k, v in second[0].items() if k not in ("event_id", "timestamp")} == {
        k: v for k, v in records[0].items() if k not in ("event_id", "timestamp")}
    # Without a client id the keyed content id changes with the timestamp: no id is invented.
    anonymous = [{k: v for k, v in r.items() if k != "event_id"} for r in records[:2]]
    assert "event_id" not in shifted_pass(anonymous, seconds[:2], 1, period)[0]
    with pytest.raises(ValueError, match="record 2: timestamp 'soon' is not a date"):
        event_seconds([records[0], {**records[1], "timestamp": "soon"}])
