"""What a session said, as opposed to what it did: its latest text intent.

The decision engine treats a shopper who asks for help differently (a chat
offer is worth more than a coupon to them). The intent reaches a session two
ways: ``POST /v1/intent`` with the session's id, or a ``search`` event whose
(already scrubbed) query the text model reads. Only the label and its
confidence are kept, never the text.

In-process signals are bounded (least recently set dropped first); Redis
signals expire with the session state's time to live.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import Any


class SessionSignals(ABC):
    """Latest text intent per session id."""

    @abstractmethod
    def set_intent(self, session_id: str, intent: str, confidence: float) -> None:
        """Record ``intent`` as the session's latest."""

    @abstractmethod
    def get(self, session_id: str) -> dict[str, Any] | None:
        """``{"intent", "confidence", "at"}`` or None when the session said nothing."""

    def close(self) -> None:
        """Release connections (nothing to do in-process)."""


class MemorySessionSignals(SessionSignals):
    """Signals of one process, at most ``max_sessions`` of them."""

    def __init__(self, max_sessions: int = 100_000) -> None:
        self.max_sessions = max_sessions
        self._signals: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def set_intent(self, session_id: str, intent: str, confidence: float) -> None:
        with self._lock:
            self._signals[session_id] = {"intent": intent, "confidence": confidence, "at": time.time()}
            self._signals.move_to_end(session_id)
            while len(self._signals) > self.max_sessions:
                self._signals.popitem(last=False)

    def get(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._signals.get(session_id)
            return dict(found) if found else None


class RedisSessionSignals(SessionSignals):
    """Signals in Redis (``signals:<session id>`` hashes under ``prefix``), shared by workers."""

    def __init__(self, url: str, prefix: str = "shopintent:", ttl_s: int = 86_400 * 14,
                 client: Any | None = None) -> None:
        import redis

        self.prefix = prefix
        self.ttl_s = ttl_s
        self.client = client or redis.Redis.from_url(url, socket_timeout=5.0, decode_responses=True)

    def set_intent(self, session_id: str, intent: str, confidence: float) -> None:
        key = f"{self.prefix}signals:{session_id}"
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping={"intent": intent, "confidence": repr(confidence), "at": repr(time.time())})
        pipe.expire(key, self.ttl_s)
        pipe.execute()

    def get(self, session_id: str) -> dict[str, Any] | None:
        found = self.client.hgetall(f"{self.prefix}signals:{session_id}")
        if not found:
            return None
        return {"intent": found["intent"], "confidence": float(found["confidence"]),
                "at": float(found["at"])}

    def close(self) -> None:
        self.client.close()
