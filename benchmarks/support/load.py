"""HTTP load at a fixed rate (open loop) or as fast as possible (closed loop), from its own process.

The parent encodes the request bodies once, hands them to
``python -m benchmarks.support.load_process`` through a file, and reads back one
record per request. The load generator therefore never shares the service's
process, and it can be pinned to CPUs of its own (``cpus``) where the machine
has them; :func:`cpu_split` says which.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The one-connection client, for scripts that drive a few requests from their own loop
# (benchmarks/serve_profile.py's empty-endpoint GETs).
from benchmarks.support.load_process import Connection as _Connection  # noqa: F401

#: The checkout root, so the child finds ``benchmarks`` wherever the parent was started.
CHECKOUT = Path(__file__).resolve().parents[2]


def numbered_events(records: Sequence[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Copies of ``records`` with unique ids ``<prefix>-<n>`` (so a run stores every event)."""
    return [{**r, "event_id": f"{prefix}-{i}"} for i, r in enumerate(records)]


def quiet_client_logs() -> None:
    """Silence httpx's per-request INFO lines: in a client loop they cost more than the request."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


def cpu_split() -> tuple[list[int], list[int]]:
    """(server CPUs, load-generator CPUs) on this machine.

    The goal is stated for a service on 2 cores. With 3 or more CPUs the service side
    (HTTP workers, sink, Redis) gets CPUs 0-1 and the load generator CPU 2, so neither
    steals from the other; with 2 CPUs the service gets both and the load generator
    shares CPU 1 (its cost then lands in the service's numbers, and the results say so);
    with one CPU everything shares it.
    """
    available = sorted(os.sched_getaffinity(0))
    if len(available) >= 3:
        return available[:2], [available[2]]
    return available[:2], [available[-1]]


@dataclass
class LoadResult:
    """Requests sent at a rate (or as fast as possible) and what came back for each."""

    requests: int
    events: int
    seconds: float
    errors: int
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    decision_latencies_ms: list[float] = field(repr=False, default_factory=list)
    statuses: list[int] = field(repr=False, default_factory=list)
    acked_ids: list[list[str]] = field(repr=False, default_factory=list)
    done_s: list[float | None] = field(repr=False, default_factory=list)
    cpus: list[int] = field(default_factory=list)
    pid: int = 0

    def percentile(self, q: float, decisions: bool = False) -> float:
        """The ``q``-th percentile (nearest rank) of all latencies, or of those carrying a decision."""
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


@dataclass(frozen=True)
class Request:
    """One request to send: method, path (with query), JSON body or none, events it carries."""

    method: str
    path: str
    body: Any = None
    events: int = 1


def _result(raw: dict[str, Any], requests: Sequence[Request]) -> LoadResult:
    latencies, decided = [], []
    errors = 0
    for latency, status, decision in zip(raw["latency_ms"], raw["status"], raw["decided"], strict=True):
        ok = status in (200, 202)
        errors += 0 if ok else 1
        if latency is None:
            continue
        latencies.append(latency)
        if decision:
            decided.append(latency)
    return LoadResult(len(requests), sum(r.events for r in requests), raw["seconds"], errors, latencies,
                      decided, raw["status"], raw["acked"], raw["done_s"], raw["cpus"], raw["pid"])


class LoadProcess:
    """A running load generator; :meth:`result` waits for it and reads what it measured."""

    def __init__(self, url: str, requests: Sequence[Request], api_key: str | None, *, rate: float | None,
                 concurrency: int, max_connections: int, cpus: Sequence[int] | None,
                 record_acks: bool, warm_connections: int = 0) -> None:
        parts = urlsplit(url)
        self.requests = list(requests)
        self._folder = tempfile.TemporaryDirectory(prefix="shopintent-load-")
        spec = {"host": parts.hostname, "port": parts.port or 80, "api_key": api_key, "rate": rate,
                "concurrency": concurrency, "max_connections": max_connections,
                "warm_connections": warm_connections,
                "cpus": list(cpus) if cpus else None, "record_acks": record_acks,
                "requests": [{"method": r.method, "path": r.path,
                              "body": None if r.body is None else json.dumps(r.body, ensure_ascii=False)}
                             for r in self.requests]}
        folder = Path(self._folder.name)
        (folder / "spec.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        self._out = folder / "out.json"
        self._stderr = open(folder / "stderr.txt", "wb")  # noqa: SIM115 - closed in result()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.support.load_process", str(folder / "spec.json"),
             str(self._out)], cwd=CHECKOUT, stdout=subprocess.DEVNULL, stderr=self._stderr)

    def result(self, timeout_s: float = 900.0) -> LoadResult:
        """Wait until every request is answered (or failed) and return the measurements."""
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"the load generator did not finish in {timeout_s} s") from None
        finally:
            self._stderr.close()
        try:
            if code != 0:
                error = (Path(self._folder.name) / "stderr.txt").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the load generator exited with {code}: {error}")
            return _result(json.loads(self._out.read_text(encoding="utf-8")), self.requests)
        finally:
            self._folder.cleanup()


def start_load(url: str, requests: Sequence[Request], api_key: str | None, *, rate: float | None = None,
               concurrency: int = 16, max_connections: int = 256, cpus: Sequence[int] | None = None,
               record_acks: bool = False, warm_connections: int = 0) -> LoadProcess:
    """Start the load generator in its own process and return at once (kill -9 runs act meanwhile).

    ``rate`` set: open loop at that many requests per second, with ``warm_connections``
    keep-alive connections opened before the clock starts; else closed loop with
    ``concurrency`` connections. ``record_acks`` keeps the keyed ids each answer acknowledged.
    """
    return LoadProcess(url, requests, api_key, rate=rate, concurrency=concurrency,
                       max_connections=max_connections, cpus=cpus, record_acks=record_acks,
                       warm_connections=warm_connections)


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path + (f"?{parts.query}" if parts.query else "")


def closed_loop(url: str, bodies: Sequence[dict[str, Any]], api_key: str | None, concurrency: int,
                events_per_body: Sequence[int], cpus: Sequence[int] | None = None) -> LoadResult:
    """Throughput: ``concurrency`` keep-alive connections busy until ``bodies`` are POSTed."""
    base, path = _split(url)
    requests = [Request("POST", path, b, n) for b, n in zip(bodies, events_per_body, strict=True)]
    return start_load(base, requests, api_key, concurrency=concurrency, cpus=cpus).result()


def open_loop(url: str, bodies: Sequence[dict[str, Any]], api_key: str | None, rate: float,
              max_connections: int = 256, cpus: Sequence[int] | None = None) -> LoadResult:
    """Latency at a fixed offered rate (open loop), overall and for responses carrying a decision."""
    base, path = _split(url)
    requests = [Request("POST", path, b) for b in bodies]
    return start_load(base, requests, api_key, rate=rate, max_connections=max_connections,
                      cpus=cpus).result()
