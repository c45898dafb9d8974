"""The loop that moves a stream into the store: read → ingest → acknowledge."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shopintent.log import get_logger
from shopintent.serve.streams.base import EventSource

log = get_logger(__name__)


class StreamConsumer:
    """Runs ``sink(events)`` for each message of ``source`` on its own thread.

    ``sink`` must store the events before it returns (the service passes the
    writer's blocking ingest); only then is the message acknowledged. If
    ``sink`` raises, the message stays unacknowledged and is delivered again.
    """

    def __init__(self, source: EventSource, sink: Callable[[Sequence[Mapping[str, Any]]], Any],
                 max_messages: int = 64, poll_s: float = 0.5,
                 on_acked: Callable[[int], None] | None = None) -> None:
        self.source = source
        self.sink = sink
        self.max_messages = max_messages
        self.poll_s = poll_s
        self.on_acked = on_acked
        self.acked = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"consumer-{self.source.backend}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> int:
        """Read and process one round of messages; returns how many were acknowledged."""
        messages = self.source.read(self.max_messages, self.poll_s)
        if not messages:
            return 0
        events = [e for m in messages for e in m.events]
        if events:
            self.sink(events)
        self.source.ack(messages)
        self.acked += len(messages)
        if self.on_acked is not None:
            self.on_acked(len(messages))
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep consuming; the message will come again
                self.errors += 1
                log.warning("stream round failed; messages will be redelivered",
                            backend=self.source.backend, error=f"{type(exc).__name__}: {exc}"[:300])
                self._stop.wait(1.0)
