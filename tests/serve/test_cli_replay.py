"""``shopintent serve`` as a process and ``serve replay`` streaming real Taobao events into it."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.serve.loadtest import ServiceProcess
from shopintent.serve.replay import replay, taobao_stream
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, AUTH


def test_serve_help_lists_its_options_and_replay() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for word in ("--host", "--port", "--stream", "--replay-rate", "replay"):
        assert word in result.output


def test_replay_streams_taobao_in_time_order_and_is_idempotent(settings: Settings, tmp_path: Path) -> None:
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
    finally:
        service.stop()
