"""Multi-turn context: what the assistant remembers of a session's conversation between messages.

A follow-up is short ("and when will it arrive?", "it's 2017120312345", "这个呢"):
it names no order, no product, or no intent. So each session keeps its last
flow and intent, the order it was about (as the store's keyed id and a four-character
reference, never the typed number), the product it was about, and whether the
last answer was waiting for an order number. Like the session's text-intent
signal it is kept in process (bounded) or in Redis (shared by workers, expiring
with the session state).

>>> memory = MemoryDialogues(max_sessions=2)
>>> memory.put("s1", Turn(turns=1, flow="refund", intent="get_refund", order_key="e_1"))
>>> memory.get("s1").flow
'refund'
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Turn:
    """A session's conversation so far, as the next message needs it."""

    turns: int = 0
    flow: str | None = None
    intent: str | None = None
    order_key: str | None = None
    order_ref: str | None = None
    product_id: str | None = None
    awaiting_order: bool = False
    escalated: bool = False

    def to_json(self) -> str:
        """One JSON object (what Redis holds)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Turn:
        """Read :meth:`to_json`'s output, ignoring fields a newer version added."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def next(self, **changes: Any) -> Turn:
        """The context after one more message."""
        return replace(self, turns=self.turns + 1, **changes)


class Dialogues(ABC):
    """Per-session :class:`Turn`, by the id the service issued for the session."""

    @abstractmethod
    def get(self, session_id: str) -> Turn | None:
        """The session's context, ``None`` before its first message."""

    @abstractmethod
    def put(self, session_id: str, turn: Turn) -> None:
        """Keep ``turn`` as the session's context."""

    def close(self) -> None:
        """Release connections (nothing to do in-process)."""


class MemoryDialogues(Dialogues):
    """Contexts of one process, at most ``max_sessions`` (least recently used dropped first)."""

    def __init__(self, max_sessions: int = 100_000) -> None:
        self.max_sessions = max_sessions
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str) -> Turn | None:
        with self._lock:
            return self._turns.get(session_id)

    def put(self, session_id: str, turn: Turn) -> None:
        with self._lock:
            self._turns[session_id] = turn
            self._turns.move_to_end(session_id)
            while len(self._turns) > self.max_sessions:
                self._turns.popitem(last=False)


class RedisDialogues(Dialogues):
    """Contexts in Redis (``dialogue:<session id>`` under ``prefix``), shared by workers."""

    def __init__(self, url: str, prefix: str = "shopintent:", ttl_s: int = 86_400 * 14,
                 client: Any | None = None) -> None:
        import redis

        self.prefix = prefix
        self.ttl_s = ttl_s
        self.client = client or redis.Redis.from_url(url, socket_timeout=5.0, decode_responses=True)

    def get(self, session_id: str) -> Turn | None:
        found = self.client.get(f"{self.prefix}dialogue:{session_id}")
        return Turn.from_json(found) if found else None

    def put(self, session_id: str, turn: Turn) -> None:
        self.client.set(f"{self.prefix}dialogue:{session_id}", turn.to_json(), ex=self.ttl_s)

    def close(self) -> None:
        self.client.close()
