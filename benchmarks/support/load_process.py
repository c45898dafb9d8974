"""The load generator's own process: ``python -m benchmarks.support.load_process SPEC OUT``.

The issue asks that the load generator never share the service's process (nor,
where the machine has cores to spare, its cores): the parent writes a
:class:`~benchmarks.support.load.LoadSpec` as JSON, this process pins itself to
the CPUs named there, encodes every request before the clock starts, sends
them, and writes one record per request (latency, status, whether a decision
came back, the keyed ids acknowledged) to OUT.

* open loop (``rate`` set): request *i* is due at ``start + i / rate`` whatever the
  answers; its latency runs from that scheduled time, so a queue in the service
  (or a shortage of connections here) shows in the numbers instead of slowing
  the sender down (no coordinated omission). ``warm_connections`` keep-alive
  connections are opened before the clock starts (a shop's front end or edge
  proxy holds its connections to the API open; without them the first tenth of a
  second measures this client's and the server's TCP set-up for a burst of new
  connections, not an event's way through the service); more are opened as
  needed, up to ``max_connections``;
* closed loop (``rate`` null): ``concurrency`` keep-alive connections, each sending
  its next request when the previous one is answered; latency from the send.

The client is a minimal keep-alive HTTP/1.1 speaker over asyncio streams on
uvloop: a general client costs more CPU per request than the service.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

#: Per-event statuses that mean the service acknowledged the event.
ACKNOWLEDGED = ("stored", "duplicate")


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for JSON requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, request: bytes) -> tuple[int, bytes]:
        """Write one pre-encoded request and read its answer (status, body)."""
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


#: What a dead or restarting service raises at the client.
FAILURES = (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError, IndexError)


def encode(host: str, port: int, method: str, path: str, body: str | None, api_key: str | None) -> bytes:
    """The bytes of one HTTP/1.1 request (encoded before the clock starts)."""
    payload = body.encode("utf-8") if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    if api_key:
        head += f"X-API-Key: {api_key}\r\n"
    return head.encode("ascii") + b"\r\n" + payload


class Recorder:
    """One slot per request: latency (ms), status (0 = no answer), decision, acknowledged ids."""

    def __init__(self, n: int, record_acks: bool) -> None:
        self.latency_ms: list[float | None] = [None] * n
        self.status = [0] * n
        self.decided = [False] * n
        self.done_s: list[float | None] = [None] * n
        self.acked: list[list[str]] = [[] for _ in range(n)] if record_acks else []
        self.record_acks = record_acks

    def record(self, i: int, status: int, body: bytes, since: float, origin: float) -> None:
        now = time.perf_counter()
        self.latency_ms[i] = (now - since) * 1000
        self.done_s[i] = now - origin
        self.status[i] = status
        if status not in (200, 202) or not body.startswith(b"{"):
            return
        if b'"decisions"' in body and b'"decisions":[]' not in body:
            self.decided[i] = bool(json.loads(body).get("decisions"))
        if self.record_acks:
            self.acked[i] = [r["event_id"] for r in json.loads(body).get("results", [])
                             if r.get("status") in ACKNOWLEDGED and r.get("event_id")]

    def failed(self, i: int, since: float, origin: float) -> None:
        now = time.perf_counter()
        self.latency_ms[i] = (now - since) * 1000
        self.done_s[i] = now - origin


async def closed_loop(host: str, port: int, requests: list[bytes], concurrency: int,
                      recorder: Recorder) -> float:
    """``concurrency`` connections busy until every request is answered; returns seconds."""
    position = 0
    origin = time.perf_counter()

    async def worker() -> None:
        nonlocal position
        connection: Connection | None = None
        while position < len(requests):
            i = position
            position += 1
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = await Connection.open(host, port)
                status, body = await connection.post(requests[i])
                recorder.record(i, status, body, started, origin)
            except FAILURES:
                recorder.failed(i, started, origin)
                if connection is not None:
                    connection.close()
                connection = None
                await asyncio.sleep(0.01)  # a dead service refuses at once: do not spin
        if connection is not None:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - origin


async def open_loop(host: str, port: int, requests: list[bytes], rate: float, max_connections: int,
                    recorder: Recorder, warm_connections: int = 0) -> float:
    """Request *i* due at ``i / rate`` s; latency from the due time; returns seconds.

    ``warm_connections`` (at most ``max_connections``) are opened before the clock starts.
    """
    idle: list[Connection] = list(await asyncio.gather(
        *(Connection.open(host, port) for _ in range(min(warm_connections, max_connections)))))
    slots = asyncio.Semaphore(max_connections)
    origin = time.perf_counter()

    async def one(i: int, due: float) -> None:
        async with slots:
            connection = None
            try:
                connection = idle.pop() if idle else await Connection.open(host, port)
                status, body = await connection.post(requests[i])
                idle.append(connection)
                recorder.record(i, status, body, due, origin)
            except FAILURES:
                if connection is not None:
                    connection.close()
                recorder.failed(i, due, origin)

    tasks = []
    for i in range(len(requests)):
        due = origin + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - origin
    for connection in idle:
        connection.close()
    return seconds


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Send the requests of ``spec`` and return what happened to each."""
    if spec.get("cpus"):
        os.sched_setaffinity(0, set(spec["cpus"]))
    host, port = spec["host"], int(spec["port"])
    requests = [encode(host, port, r["method"], r["path"], r.get("body"), spec.get("api_key"))
                for r in spec["requests"]]
    recorder = Recorder(len(requests), bool(spec.get("record_acks")))
    if spec.get("rate"):
        job = open_loop(host, port, requests, float(spec["rate"]), int(spec["max_connections"]), recorder,
                        int(spec.get("warm_connections") or 0))
    else:
        job = closed_loop(host, port, requests, int(spec["concurrency"]), recorder)
    import uvloop  # a declared dependency (uvicorn's loop); cheaper per request than asyncio's

    seconds = uvloop.run(job)
    return {"seconds": seconds, "latency_ms": recorder.latency_ms, "status": recorder.status,
            "decided": recorder.decided, "done_s": recorder.done_s, "acked": recorder.acked,
            "cpus": sorted(os.sched_getaffinity(0)), "pid": os.getpid()}


def main(argv: list[str]) -> int:
    """``SPEC`` (JSON written by the parent) in, ``OUT`` (JSON) written when every request is done."""
    if len(argv) != 2:
        sys.stderr.write("usage: python -m benchmarks.support.load_process SPEC.json OUT.json\n")
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = run(spec)
    Path(argv[1]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
