"""HTTP load at a fixed rate (open loop) or as fast as possible (closed loop), with latencies.

Requests are pre-encoded and sent over a minimal keep-alive HTTP/1.1 client:
a general one (httpx) costs more CPU per request than the service does, and
the load generator shares the machine with it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx


def numbered_events(records: Sequence[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Copies of ``records`` with unique ids ``<prefix>-<n>`` (so a run stores every event)."""
    return [{**r, "event_id": f"{prefix}-{i}"} for i, r in enumerate(records)]


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


def quiet_client_logs() -> None:
    """Silence httpx's per-request INFO lines: in a load generator they cost more than the request."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


def closed_loop(url: str, bodies: Sequence[dict[str, Any]], api_key: str | None, concurrency: int,
                events_per_body: Sequence[int]) -> LoadResult:
    """Throughput: ``concurrency`` keep-alive connections busy until ``bodies`` are sent."""
    return asyncio.run(_closed_loop(url, bodies, api_key, concurrency, events_per_body))


async def _open_loop(url: str, bodies: Sequence[dict[str, Any]], api_key: str | None, rate: float,
                     max_connections: int) -> LoadResult:
    """One request every ``1/rate`` s whatever the answers; latency counts from the *scheduled*
    send time, so time spent waiting for a free connection is included (no coordinated omission)."""
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
