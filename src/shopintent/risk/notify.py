"""Hold notifications: a ``hold`` verdict POSTed as JSON to the shop's webhook, off the request path.

Why a webhook and not a message on the event log: the event log carries
shopper events that the store sink validates and stores as events; a risk
notice is not one, and whoever must act on a hold (a payments desk, a
chat-ops channel) listens on a URL, not on the service's stream. The durable
record of every hold is the verdict log (:mod:`shopintent.risk.verdict_log`),
written before the notice is queued, so a webhook that is down loses a ping,
never the fact.

Notices are sent by one daemon thread from a bounded queue (a slow or dead
webhook never holds a request up; when the queue is full a notice is dropped
and counted), each with a short timeout and no retry.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any

from shopintent.log import get_logger

log = get_logger(__name__)

__all__ = ["HoldNotifier"]


class HoldNotifier:
    """Sends hold notices to ``url`` from a background thread (``url=None``: counts them only)."""

    def __init__(self, url: str | None, timeout_s: float = 2.0, max_queued: int = 1000) -> None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"risk_webhook_url {url!r} is not an http(s) URL")
        self.url = url
        self.timeout_s = timeout_s
        self.sent = self.failed = self.dropped = 0
        self._queue: queue.Queue[Mapping[str, Any] | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        if url is not None:
            self._thread = threading.Thread(target=self._run, name="risk-notifier", daemon=True)
            self._thread.start()

    def notify(self, notice: Mapping[str, Any]) -> None:
        """Queue one notice (never blocks)."""
        if self.url is None:
            return
        try:
            self._queue.put_nowait(dict(notice))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            notice = self._queue.get()
            if notice is None:
                return
            body = json.dumps(notice, default=str).encode()
            request = urllib.request.Request(str(self.url), data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                self.sent += 1
            except Exception as exc:  # noqa: BLE001 - a webhook that is down must not stop the service
                self.failed += 1
                log.warning("risk hold notification failed", error=type(exc).__name__, detail=str(exc)[:200])

    def close(self, timeout_s: float = 2.0) -> None:
        """Send what is queued (up to ``timeout_s``), then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout_s)
            self._thread = None
