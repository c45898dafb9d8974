"""kill -9 a part of the running service under load, recover, re-send, and count the damage.

What an at-least-once client sees: every event the service acknowledged must
end up in the store, and re-sending everything must store nothing twice. The
parts that can die: the whole single-process service (restarted on the same
store and log), one HTTP worker of ``--workers N`` (the supervisor replaces
it), the sink process (its unacknowledged log messages are re-delivered), and
the broker (Redis, restarted from its AOF).

Counting reads the DuckDB file itself, by the keyed ids the service answered
with: "lost" is an acknowledged id that never reached the store, "stored twice"
a keyed id with more than one row.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.support.features import has_wait_store
from benchmarks.support.load import quiet_client_logs
from benchmarks.support.service_process import ServiceProcess
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)


@dataclass
class FaultReport:
    """kill -9 under load: what was acknowledged, lost, duplicated after the re-delivery."""

    sent_before_kill: int = 0
    acked_before_kill: int = 0
    acknowledged: int = 0
    lost_acknowledged: int = 0
    stored_after_restart: int = 0
    stored_twice: int = 0
    resent: int = 0
    duplicates_on_resend: int = 0
    unique_events: int = 0
    restart_seconds: float = 0.0
    failed_requests: int = 0
    settle_cycles: int = 0
    acked_ids: set[str] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "acked_ids"}


def process_roles(service: ServiceProcess) -> dict[str, list[int]]:
    """The service's processes by role: ``sink`` (holds the DuckDB file open) and ``worker`` (the rest
    that run shopintent; multiprocessing's helper processes are left out)."""
    roles: dict[str, list[int]] = {"sink": [], "worker": []}
    store = str(service.store.resolve())
    for pid in service.descendants():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            files = [str(p.readlink()) for p in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue  # it ended while we looked
        if "resource_tracker" in command or "python" not in command:
            continue
        roles["sink" if any(f.startswith(store) for f in files) else "worker"].append(pid)
    return roles


def stored_rows(store: Path, ids: set[str]) -> tuple[int, int, set[str]]:
    """(rows whose keyed id is in ``ids``, rows beyond the first per keyed id, the ids present)."""
    import duckdb

    with duckdb.connect(str(store), read_only=True) as connection:
        rows = connection.execute("SELECT event_id, COUNT(*) FROM events GROUP BY event_id").fetchall()
    counts = {str(event_id): int(n) for event_id, n in rows}
    mine = {i: n for i, n in counts.items() if i in ids}
    return sum(mine.values()), sum(n - 1 for n in counts.values()), set(mine)


def drain(service: ServiceProcess, record: dict[str, Any], api_key: str, timeout_s: float = 120.0) -> None:
    """Wait until the sink has stored what the event log holds, as far as the service can say.

    Where this process has the sink (``?wait=store``), a fresh sentinel event is sent that
    way: the sink consumes the log in order, so once it is stored everything before it is.
    Then ``/readyz``'s ``log_pending`` (messages the sink has not stored yet) is polled
    until it reads 0 three times in a row (any worker may answer). A service with neither
    stores before it answers, so there is nothing to wait for. Whatever is still missing
    after this shows up as lost in the count, never as a crash here.
    """
    deadline = time.monotonic() + timeout_s
    if has_wait_store(service.url):
        sentinel = {**record, "event_id": f"drain-{uuid.uuid4().hex}"}
        try:
            response = httpx.post(service.url + "/v1/events?wait=store", json={"events": [sentinel]},
                                  headers={"X-API-Key": api_key}, timeout=timeout_s)
            if response.status_code not in (200, 400):  # 400: the sink is another process
                response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("the sink did not store the drain sentinel", error=str(exc), url=service.url)
    zero_reads = 0
    while zero_reads < 3 and time.monotonic() < deadline:
        try:
            pending = httpx.get(service.url + "/readyz", timeout=5).json().get("log_pending")
        except (httpx.HTTPError, ValueError):
            pending = -1
        if pending is None:
            return  # a service without an event log behind it
        zero_reads = zero_reads + 1 if pending == 0 else 0
        time.sleep(0.2)


class _Sender(threading.Thread):
    """An at-least-once client: batches in order, a failed batch retried (up to ``RETRY_S``), the
    acknowledged ids collected from the answers."""

    RETRY_S = 30.0

    def __init__(self, url: str, records: Sequence[dict[str, Any]], api_key: str, batch_size: int,
                 stop_on_failure_after: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.records, self.api_key, self.batch_size = url, records, api_key, batch_size
        self.stop_on_failure_after = stop_on_failure_after
        self.acked: set[str] = set()
        self.sent = 0
        self.failed = 0

    def _post(self, client: httpx.Client, batch: list[dict[str, Any]]) -> httpx.Response | None:
        try:
            response = client.post(self.url + "/v1/events", json={"events": batch})
        except httpx.TransportError:
            return None  # died mid-request: this batch was never acknowledged
        return response if response.status_code == 200 else None

    def run(self) -> None:
        with httpx.Client(headers={"X-API-Key": self.api_key}, timeout=10) as client:
            for start in range(0, len(self.records), self.batch_size):
                batch = list(self.records[start : start + self.batch_size])
                self.sent += len(batch)
                give_up = time.monotonic() + self.RETRY_S
                while (response := self._post(client, batch)) is None:
                    self.failed += 1
                    if self.stop_on_failure_after.is_set():
                        return
                    if time.monotonic() > give_up:
                        break  # left to the re-delivery
                    time.sleep(0.1)
                if response is not None:
                    self.acked.update(r["event_id"] for r in response.json()["results"]
                                      if r["status"] in ("stored", "duplicate") and r.get("event_id"))


def fault_run(service: ServiceProcess, records: Sequence[dict[str, Any]], api_key: str, *,
              kill_after_acks: int, fault: Callable[[], ServiceProcess], batch_size: int = 50,
              stop_sending_on_failure: bool = False) -> FaultReport:
    """Send ``records`` (unique ids) to the running ``service``; after ``kill_after_acks`` acknowledged
    events call ``fault`` (it kills something and recovers, returning the service to use from then
    on); re-send everything; drain the log; stop; count in the store.

    ``stop_sending_on_failure``: the client stops at its first failed request after the fault
    (a dead single-process service: the rest is sent again in the re-delivery).
    """
    quiet_client_logs()
    report = FaultReport(unique_events=len(records))
    after_fault = threading.Event()
    sender = _Sender(service.url, records, api_key, batch_size, after_fault)
    sender.start()
    while len(sender.acked) < kill_after_acks and sender.is_alive():
        time.sleep(0.001)
    report.sent_before_kill = sender.sent
    report.acked_before_kill = len(sender.acked)
    if stop_sending_on_failure:
        after_fault.set()
    started = time.perf_counter()
    recovered = fault()
    # A replaced service reports its own start time; otherwise, how long the fault and recovery took.
    report.restart_seconds = (recovered.start_seconds if recovered is not service
                              else time.perf_counter() - started)
    service = recovered
    sender.join(timeout=600)
    report.acknowledged = len(sender.acked)
    report.acked_ids = set(sender.acked)
    report.failed_requests = sender.failed

    keyed: set[str] = set()
    with httpx.Client(headers={"X-API-Key": api_key}, timeout=120) as client:
        # The client's retry: everything again (at-least-once); the store keeps each once.
        for start in range(0, len(records), 1000):
            body = client.post(service.url + "/v1/events", json={"events": list(records[start : start + 1000])})
            body.raise_for_status()
            answer = body.json()
            report.resent += answer["received"]
            report.duplicates_on_resend += answer["duplicates"]
            keyed.update(r["event_id"] for r in answer["results"] if r.get("event_id"))
    keyed |= report.acked_ids
    # The sink may still be behind when the service stops; a restart resumes it from its
    # committed offset, so a missing id is only "lost" if it is still missing after that.
    for cycle in range(2):
        drain(service, records[0], api_key)
        service.stop()
        report.stored_after_restart, report.stored_twice, present = stored_rows(service.store, keyed)
        report.lost_acknowledged = len(report.acked_ids - present)
        report.settle_cycles = cycle
        if report.lost_acknowledged == 0 or cycle == 1:
            break
        service.start()
    return report


def kill9_run(settings: Settings, records: Sequence[dict[str, Any]], workdir: Path, api_key: str,
              kill_after_acks: int, batch_size: int = 50, extra_args: Sequence[str] = (),
              cpus: Sequence[int] | None = None) -> FaultReport:
    """kill -9 the whole single-process service after ``kill_after_acks`` acknowledged events,
    restart it on the same store (and log), re-send every event, and count the damage."""
    args = ["--no-models", *extra_args]
    service = ServiceProcess(settings, workdir / "fault.duckdb", api_key, args, log_path=workdir / "fault.log",
                             cpus=cpus)
    service.start()

    def crash() -> ServiceProcess:
        service.kill()
        restarted = ServiceProcess(settings, service.store, api_key, args, log_path=workdir / "fault.log",
                                   cpus=cpus)
        restarted.port, restarted.url = service.port, service.url
        restarted.start()
        return restarted

    return fault_run(service, records, api_key, kill_after_acks=kill_after_acks, fault=crash,
                     batch_size=batch_size, stop_sending_on_failure=True)
