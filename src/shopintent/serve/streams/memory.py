"""The in-process stream: a bounded queue inside the service (the embedded default).

Events published here live only in memory until the consumer stores them;
the durable paths are ``POST /v1/events`` (stored before the response) and
Redis Streams. ``ack`` is a no-op because a message leaves the queue when read.
"""

from __future__ import annotations

import itertools
import queue
from collections.abc import Mapping, Sequence
from typing import Any

from shopintent.serve.streams.base import EventSource, StreamMessage


class MemorySource(EventSource):
    """A thread-safe queue of messages; ``maxsize`` bounds memory (``publish`` then blocks)."""

    backend = "memory"

    def __init__(self, maxsize: int = 10_000) -> None:
        self._queue: queue.Queue[StreamMessage] = queue.Queue(maxsize=maxsize)
        self._ids = itertools.count(1)
        self._in_flight = 0

    def publish(self, events: Sequence[Mapping[str, Any]], key_id: str | None = None,
                applied: bool = False) -> str:
        message = StreamMessage(f"mem-{next(self._ids)}", [dict(e) for e in events], key_id, applied)
        self._queue.put(message, timeout=30)
        return message.message_id

    def read(self, max_messages: int, timeout_s: float) -> list[StreamMessage]:
        try:
            first = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return []
        out = [first]
        while len(out) < max_messages:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._in_flight += len(out)
        return out

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        self._in_flight -= len(messages)

    def pending(self) -> int:
        return self._queue.qsize() + self._in_flight
