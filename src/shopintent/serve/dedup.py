"""Which event ids the service has seen: the answer ``stored`` or ``duplicate`` without the store.

With the event log as the commit point the request path no longer waits for
DuckDB, so it cannot ask the store whether an event is new. After the events of
a write group are in the log, :meth:`SeenIds.claim` marks their keyed ids as
seen and says, per id, whether it was new: a new id is answered ``stored`` and
its live effects are applied, an id seen before is ``duplicate`` and never
touches live state again. Publishing comes *before* claiming, so an id is only
ever claimed once its event is durable; a duplicate that also went into the log
is absorbed by the store's ``event_id`` key.

Ids are remembered for ``horizon_s`` (``ServeConfig.dedup_horizon_s``, default
one hour). An event re-sent after that is answered ``stored`` again and folded
into live state again, but the store still keeps it once. Two implementations:
:class:`MemorySeenIds` (one process; seeded at start from the store's most
recent ids and the log's unacknowledged tail, so a restarted service still
answers a retry ``duplicate``) and :class:`RedisSeenIds` (``SET NX EX`` per
id, shared by every worker).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from shopintent.log import get_logger

log = get_logger(__name__)


class SeenIds(ABC):
    """The dedup index: ``claim`` ids, learn which of them are new."""

    #: Whether claimed ids outlive the process (then a restart need not seed them again).
    persistent = False

    def __init__(self, horizon_s: float) -> None:
        if horizon_s <= 0:
            raise ValueError(f"horizon_s {horizon_s} must be positive")
        self.horizon_s = horizon_s

    @abstractmethod
    def claim(self, ids: Sequence[str]) -> list[bool]:
        """Mark ``ids`` as seen; True for each id not seen within the horizon (nor earlier in ``ids``)."""

    def seed(self, ids: Iterable[str]) -> int:
        """Remember ``ids`` as seen (at start: what the store and the log already hold); how many."""
        n = 0
        batch: list[str] = []
        for event_id in ids:
            batch.append(event_id)
            if len(batch) >= 10_000:
                self.claim(batch)
                n += len(batch)
                batch = []
        if batch:
            self.claim(batch)
            n += len(batch)
        return n

    def close(self) -> None:
        """Release connections."""


class MemorySeenIds(SeenIds):
    """Ids seen by this process within the horizon, at most ``max_ids`` (oldest forgotten first)."""

    def __init__(self, horizon_s: float, max_ids: int = 2_000_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(horizon_s)
        if max_ids < 1:
            raise ValueError(f"max_ids {max_ids} must be at least 1")
        self.max_ids = max_ids
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # id -> when first seen, oldest first
        self._lock = threading.Lock()

    def claim(self, ids: Sequence[str]) -> list[bool]:
        now = self._clock()
        out = []
        with self._lock:
            self._evict(now)
            seen = self._seen
            for event_id in ids:
                if event_id in seen:
                    out.append(False)
                else:
                    seen[event_id] = now
                    out.append(True)
            while len(seen) > self.max_ids:
                seen.popitem(last=False)
        return out

    def _evict(self, now: float) -> None:
        oldest = now - self.horizon_s
        seen = self._seen
        while seen:
            first = next(iter(seen.values()))
            if first > oldest:
                return
            seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)


class RedisSeenIds(SeenIds):
    """Ids seen by any worker: one ``SET key 1 NX EX horizon`` per id, in one pipeline per claim."""

    persistent = True

    def __init__(self, url: str, horizon_s: float, prefix: str = "shopintent:events:",
                 client: Any | None = None) -> None:
        super().__init__(horizon_s)
        import redis

        self.prefix = prefix + "seen:"
        self.client = client or redis.Redis.from_url(url, socket_timeout=30.0)

    def claim(self, ids: Sequence[str]) -> list[bool]:
        if not ids:
            return []
        ttl = max(1, int(self.horizon_s))
        with self.client.pipeline(transaction=False) as pipe:
            for event_id in ids:
                pipe.set(self.prefix + event_id, b"1", nx=True, ex=ttl)
            replies = pipe.execute()
        return [bool(r) for r in replies]

    def close(self) -> None:
        self.client.close()
