"""kill -9 the service mid-stream, restart it on the same store, and count the damage.

What an at-least-once client sees: every event it had acknowledged must
survive the crash, and re-sending everything must store nothing twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.support.load import quiet_client_logs
from benchmarks.support.service_process import ServiceProcess
from shopintent.settings import Settings


@dataclass
class FaultReport:
    """kill -9 mid-stream: what was acknowledged, lost, duplicated after the restart."""

    sent_before_kill: int = 0
    acknowledged: int = 0
    lost_acknowledged: int = 0
    stored_after_restart: int = 0
    resent: int = 0
    duplicates_on_resend: int = 0
    unique_events: int = 0
    restart_seconds: float = 0.0
    acked_ids: set[str] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "acked_ids"}


def kill9_run(settings: Settings, records: Sequence[dict[str, Any]], workdir: Path, api_key: str,
              kill_after_acks: int, batch_size: int = 50) -> FaultReport:
    """Stream ``records`` (with unique ids) over HTTP, kill -9 the service after
    ``kill_after_acks`` acknowledged events, restart it on the same store, re-send
    every event, and count what an acknowledged client would have lost."""
    store = workdir / "fault.duckdb"
    report = FaultReport(unique_events=len(records))
    quiet_client_logs()
    service = ServiceProcess(settings, store, api_key, ["--no-models"], log_path=workdir / "fault.log")
    service.start()
    acked: set[str] = set()
    killed = threading.Event()

    def sender() -> None:
        with httpx.Client(headers={"X-API-Key": api_key}, timeout=10) as client:
            for start in range(0, len(records), batch_size):
                batch = list(records[start : start + batch_size])
                report.sent_before_kill += len(batch)
                try:
                    response = client.post(service.url + "/v1/events", json={"events": batch})
                except httpx.TransportError:
                    return  # the service died mid-request: this batch was never acknowledged
                if response.status_code != 200:
                    return
                # The answer names keyed ids; the client knows its events by position.
                acked.update(batch[r["index"]]["event_id"] for r in response.json()["results"]
                             if r["status"] in ("stored", "duplicate"))
                if killed.is_set():
                    return

    thread = threading.Thread(target=sender)
    thread.start()
    while len(acked) < kill_after_acks and thread.is_alive():
        time.sleep(0.001)
    service.kill()  # mid-stream: the sender has requests in flight
    killed.set()
    thread.join(timeout=30)
    report.acknowledged = len(acked)
    report.acked_ids = set(acked)

    restarted = ServiceProcess(settings, store, api_key, ["--no-models"], log_path=workdir / "fault.log")
    restarted.port, restarted.url = service.port, service.url
    report.restart_seconds = restarted.start()
    try:
        with httpx.Client(headers={"X-API-Key": api_key}, timeout=30) as client:
            # Which acknowledged events survived? Re-sending them must answer "duplicate".
            acked_list = sorted(acked)
            survived = 0
            for start in range(0, len(acked_list), 1000):
                wanted = set(acked_list[start : start + 1000])
                batch = [r for r in records if r["event_id"] in wanted]
                body = client.post(restarted.url + "/v1/events", json={"events": batch}).json()
                survived += body["duplicates"]
            report.lost_acknowledged = len(acked) - survived
            # The client's retry: everything again (at-least-once); the store keeps each once.
            for start in range(0, len(records), 1000):
                body = client.post(restarted.url + "/v1/events",
                                   json={"events": list(records[start : start + 1000])}).json()
                report.resent += body["received"]
                report.duplicates_on_resend += body["duplicates"]
    finally:
        restarted.stop()
    import duckdb

    with duckdb.connect(str(store), read_only=True) as connection:
        report.stored_after_restart = int(connection.execute("SELECT COUNT(*) FROM events").fetchall()[0][0])
    return report
