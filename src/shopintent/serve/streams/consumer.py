"""The store sink's loop: read the event log → store → acknowledge."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from shopintent.log import get_logger
from shopintent.serve.streams.base import EventSource, StreamMessage

log = get_logger(__name__)


#: Seconds between store rounds while the log is not behind (see StreamConsumer).
ROUND_INTERVAL_S = 0.25


class StreamConsumer:
    """Hands each round of messages of ``source`` to ``sink`` on its own thread, then acknowledges it.

    ``sink(messages)`` must have stored every message's events when it returns
    (the service's sink stores them in DuckDB on the store's thread, idempotently
    by ``event_id``); only then are the messages acknowledged, so the log's
    committed offset never passes an event that is not in the store. If the sink
    raises, nothing is acknowledged and the round is delivered again.

    Messages of protected rows (``key_id`` set) must be protected under this
    service's key (``key_id``): rows keyed under another key would never join the
    store's pseudonyms, so such a message is dropped with an error log and counted
    in ``dropped`` rather than redelivered forever. Raw events (no ``key_id``, an
    outside producer) go to the sink, which sends them through the full ingest path.
    ``on_acked(messages)`` hears of every acknowledged round (``?wait=store``, metrics).

    A round stores everything read in one call of ``sink``, whose cost is mostly
    fixed (validation of the batch, one DuckDB transaction). Rounds therefore start
    at most every ``round_interval_s`` while the log is not behind: one event per
    request would otherwise make one store round per request, and in the service
    that work competes with the request path for the interpreter. The interval is
    a trade: a round's Python work (parsing the log lines, building the table)
    grows with the events it carries and slows the request path's threads while it
    runs, so longer intervals make fewer but longer slowdowns; at 1,000 events a
    second a second's round (about 1,000 events) showed as a tail in every second
    of the latency run, a quarter second's did not (``ROUND_INTERVAL_S``;
    ``benchmarks/results/serve_round_1s.json`` against ``serve.json``). A round
    that reads ``max_messages`` (a backlog) is followed at once by the next.
    """

    def __init__(self, source: EventSource, sink: Callable[[Sequence[StreamMessage]], Any],
                 max_messages: int = 1_000, poll_s: float = 0.5,
                 on_acked: Callable[[Sequence[StreamMessage]], None] | None = None,
                 key_id: str | None = None, round_interval_s: float = ROUND_INTERVAL_S) -> None:
        self.source = source
        self.sink = sink
        self.key_id = key_id
        self.max_messages = max_messages
        self.poll_s = poll_s
        self.round_interval_s = round_interval_s
        self.on_acked = on_acked
        self.acked = 0
        self.errors = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._nudged = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"consumer-{self.source.backend}",
                                        daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Start the next round now (a caller waits for the store: ``?wait=store``)."""
        self._nudged.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._nudged.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self, poll_s: float | None = None) -> int:
        """Read and store one round of messages; returns how many were acknowledged."""
        messages = self.source.read(self.max_messages, self.poll_s if poll_s is None else poll_s)
        if not messages:
            return 0
        kept = []
        for m in messages:
            if m.key_id is not None and m.key_id != self.key_id:
                self.dropped += len(m.events)
                log.error("stream message protected under another pseudonym key dropped",
                          backend=self.source.backend, message_id=m.message_id,
                          message_key_id=m.key_id, key_id=self.key_id, events=len(m.events))
                continue
            kept.append(m)
        if kept:
            self.sink(kept)
        self.source.ack(messages)
        self.acked += len(messages)
        if self.on_acked is not None:
            self.on_acked(messages)
        return len(messages)

    def drain(self, max_rounds: int = 1_000_000) -> int:
        """Store every message the source has now (at start, before the histories are restored)."""
        total = 0
        for _ in range(max_rounds):
            done = self.run_once(poll_s=0.0)
            total += done
            if not done:
                break
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                started = time.monotonic()
                done = self.run_once()
                rest = self.round_interval_s - (time.monotonic() - started)
                if done and done < self.max_messages and rest > 0:
                    self._nudged.wait(rest)
                self._nudged.clear()
            except Exception as exc:  # keep consuming; the message will come again
                self.errors += 1
                log.warning("stream round failed; messages will be redelivered",
                            backend=self.source.backend, error=f"{type(exc).__name__}: {exc}"[:300])
                self._stop.wait(1.0)
