"""Run the service as a real process and measure it: load, latency, and kill -9 recovery.

Used by ``shopintent bench serve`` and by the fault test. Everything stays on
loopback and every run is bounded in time. The service runs as
``python -m shopintent.cli.main serve`` in a child process (its own
interpreter, as in production), so a ``kill -9`` is a real crash.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shopintent.settings import Settings


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """``shopintent serve`` in a child process on a free loopback port."""

    def __init__(self, settings: Settings, store: Path, api_key: str, extra_args: Sequence[str] = (),
                 log_path: Path | None = None) -> None:
        self.settings = settings
        self.store = store
        self.api_key = api_key
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "SHOPINTENT_DATA_DIR": str(self.settings.data_dir),
            "SHOPINTENT_STATE_DIR": str(self.settings.state_dir),
            "SHOPINTENT_API_KEYS": self.api_key,
            "SHOPINTENT_ALLOW_DOWNLOAD": "false",
            "OMP_NUM_THREADS": "1",
        })
        if self.settings.pseudonym_key is not None:
            env["SHOPINTENT_PSEUDONYM_KEY"] = self.settings.pseudonym_key.get_secret_value()
        return env

    def start(self, ready: str = "/healthz", timeout_s: float = 120.0,
              wait_models: Sequence[str] = ()) -> float:
        """Start and wait until ``ready`` answers 200; returns seconds.

        With ``wait_models`` (and ``ready="/readyz"``) it waits for those models and the
        store and stream instead, read from the readiness body: a service may run without
        some model (``--no-train-missing`` and none cached), which keeps ``/readyz`` at 503.
        """
        command = [sys.executable, "-m", "shopintent.cli.main", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--store", str(self.store), *self.extra_args]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        started = time.perf_counter()
        self.process = subprocess.Popen(command, env=self._env(), stdout=out, stderr=out)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode} while starting "
                                   f"(log: {self.log_path})")
            try:
                response = httpx.get(self.url + ready, timeout=1.0)
                if ready == "/readyz" and wait_models and response.status_code in (200, 503):
                    body = response.json()
                    models = body.get("models", {})
                    if body.get("store") and body.get("stream") and all(
                            (models.get(m) or {}).get("ready") for m in wait_models):
                        break
                elif response.status_code == 200:
                    break
            except (httpx.TransportError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"service did not become ready in {timeout_s} s")
            time.sleep(0.05)
        self.start_seconds = time.perf_counter() - started
        return self.start_seconds

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), killing after 20 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def numbered_events(records: Sequence[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Copies of ``records`` with unique ids ``<prefix>-<n>`` (so a run stores every event)."""
    return [{**r, "event_id": f"{prefix}-{i}"} for i, r in enumerate(records)]


# -- fault test -------------------------------------------------------------------------------
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
    _quiet_client_logs()
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


# -- load generation ----------------------------------------------------------------------------
@dataclass
class LoadResult:
    """Requests sent at a rate (or as fast as possible) and their latencies."""

    requests: int
    events: int
    seconds: float
    errors: int
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    decision_latencies_ms: list[float] = field(repr=False, default_factory=list)

    def percentile(self, q: float, decisions: bool = False) -> float:
        values = self.decision_latencies_ms if decisions else self.latencies_ms
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float]:
        return {"requests": self.requests, "events": self.events, "seconds": round(self.seconds, 2),
                "errors": self.errors, "events_per_s": round(self.events_per_s, 1),
                "requests_per_s": round(self.requests_per_s, 1),
                "p50_ms": round(self.percentile(50), 2), "p99_ms": round(self.percentile(99), 2),
                "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else 0.0,
                "with_decision": len(self.decision_latencies_ms),
                "decision_p50_ms": round(self.percentile(50, True), 2),
                "decision_p99_ms": round(self.percentile(99, True), 2)}


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for JSON POSTs.

    A hand-written client: a general one (httpx) costs more CPU per request
    than the service does, and the load generator shares the machine.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the service closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def _request(host: str, port: int, path: str, body: dict[str, Any], api_key: str | None) -> bytes:
    import json

    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n")
    if api_key:
        head += f"X-API-Key: {api_key}\r\n"
    return head.encode("ascii") + b"\r\n" + payload


def _split(url: str) -> tuple[str, int, str]:
    parsed = httpx.URL(url)
    return parsed.host, int(parsed.port or 80), parsed.raw_path.decode("ascii")


async def _closed_loop(url: str, bodies: Sequence[dict[str, Any]], api_key: str | None,
                       concurrency: int, events_per_body: Sequence[int]) -> LoadResult:
    host, port, path = _split(url)
    requests = [_request(host, port, path, b, api_key) for b in bodies]
    latencies: list[float] = []
    errors = 0
    position = 0

    async def worker() -> None:
        nonlocal position, errors
        connection = await _Connection.open(host, port)
        try:
            while position < len(requests):
                request = requests[position]
                position += 1
                started = time.perf_counter()
                try:
                    status, _ = await connection.post(request)
                    ok = status == 200
                except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                    ok = False
                    connection.close()
                    connection = await _Connection.open(host, port)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += 0 if ok else 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return LoadResult(len(bodies), sum(events_per_body), seconds, errors, latencies)


def _quiet_client_logs() -> None:
    # httpx logs every request at INFO: in a load generator that costs more than the request.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def closed_loop(url: str, bodies: Sequence[dict[str, Any]], api_key: str | None, concurrency: int,
                events_per_body: Sequence[int]) -> LoadResult:
    """Throughput: ``concurrency`` keep-alive connections busy until ``bodies`` are sent."""
    return asyncio.run(_closed_loop(url, bodies, api_key, concurrency, events_per_body))


async def _open_loop(url: str, bodies: Sequence[dict[str, Any]], api_key: str | None, rate: float,
                     max_connections: int) -> LoadResult:
    """One request every ``1/rate`` s whatever the answers; latency counts from the *scheduled*
    send time, so time spent waiting for a free connection is included (no coordinated omission)."""
    import json

    host, port, path = _split(url)
    requests = [_request(host, port, path, b, api_key) for b in bodies]
    latencies: list[float] = []
    with_decision: list[float] = []
    errors = 0
    idle: list[_Connection] = []
    slots = asyncio.Semaphore(max_connections)

    async def one(request: bytes, scheduled: float) -> None:
        nonlocal errors
        decided = False
        async with slots:
            connection = idle.pop() if idle else await _Connection.open(host, port)
            try:
                status, body = await connection.post(request)
                ok = status == 200
                decided = ok and b'"decisions":[]' not in body and bool(json.loads(body).get("decisions"))
                idle.append(connection)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                ok = False
                connection.close()
        elapsed = (time.perf_counter() - scheduled) * 1000
        latencies.append(elapsed)
        if decided:
            with_decision.append(elapsed)
        errors += 0 if ok else 1

    tasks = []
    started = time.perf_counter()
    for i, request in enumerate(requests):
        scheduled = started + i / rate
        pause = scheduled - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(request, scheduled)))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    for connection in idle:
        connection.close()
    return LoadResult(len(bodies), len(bodies), seconds, errors, latencies, with_decision)


def open_loop(url: str, bodies: Sequence[dict[str, Any]], api_key: str | None, rate: float,
              max_connections: int = 64) -> LoadResult:
    """Latency at a fixed offered rate (open loop), overall and for responses carrying a decision."""
    return asyncio.run(_open_loop(url, bodies, api_key, rate, max_connections))
