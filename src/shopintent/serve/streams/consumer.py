"""The loop that moves a stream into the store: read → ingest → acknowledge."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shopintent.log import get_logger
from shopintent.serve.streams.base import EventSource

log = get_logger(__name__)


class StreamConsumer:
    """Stores the events of each message of ``source`` on its own thread, then acknowledges it.

    Raw events (a message without ``key_id``, from an outside producer) go to
    ``sink``, the full ingest path. Rows the service protected before publishing
    (a message with ``key_id``) go to ``protected_sink`` and are not protected
    twice, but only when their ``key_id`` is this service's (``key_id``): rows
    keyed under another key would never join the store's pseudonyms, so such a
    message is dropped with an error log and counted in ``dropped`` rather than
    redelivered forever. Each sink must store the events before it returns (the
    service passes the writer's blocking ingest); only then is the message
    acknowledged. If a sink raises, the message stays unacknowledged and is
    delivered again.
    """

    def __init__(self, source: EventSource, sink: Callable[[Sequence[Mapping[str, Any]]], Any],
                 max_messages: int = 64, poll_s: float = 0.5,
                 on_acked: Callable[[int], None] | None = None,
                 protected_sink: Callable[[Sequence[Mapping[str, Any]]], Any] | None = None,
                 key_id: str | None = None) -> None:
        self.source = source
        self.sink = sink
        self.protected_sink = protected_sink
        self.key_id = key_id
        self.max_messages = max_messages
        self.poll_s = poll_s
        self.on_acked = on_acked
        self.acked = 0
        self.errors = 0
        self.dropped = 0
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
        raw = [e for m in messages if m.key_id is None for e in m.events]
        protected = []
        for m in messages:
            if m.key_id is None:
                continue
            if self.protected_sink is None or m.key_id != self.key_id:
                self.dropped += len(m.events)
                log.error("stream message protected under another pseudonym key dropped",
                          backend=self.source.backend, message_id=m.message_id,
                          message_key_id=m.key_id, key_id=self.key_id, events=len(m.events))
                continue
            protected.extend(m.events)
        if raw:
            self.sink(raw)
        if protected:
            assert self.protected_sink is not None
            self.protected_sink(protected)
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
