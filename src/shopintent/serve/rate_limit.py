"""Per-key request rate limits (429 + ``Retry-After``), built on the ``limits`` library.

Each request is counted in a *bucket* — the scope its route needs (``read``,
``write``, ``admin``), or ``anonymous`` for a request without a valid key —
under an *identity*: the key's fingerprint (:attr:`ApiKey.key_id`, never the
key) or, for anonymous requests, the client address. The sliding-window
counter keeps two counters per bucket and identity (O(1) memory whatever the
limit) and, unlike a fixed window, lets no double burst through at a window
edge.

Counts live in Redis when the service runs with Redis (the ``limits``
library's sliding-window counter), so every worker sharing that Redis enforces
one limit. In one process they live in :class:`LocalSlidingWindow`: the same
counter over a dict. (The library's in-memory storage starts a timer thread
every 10 ms while requests flow to expire its keys; under one event per request
that was an eighth of the event loop's time.) If Redis cannot be reached the
request is let through and a warning logged: the limiter protects the service
and must not become the reason it is down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.concurrency import run_in_threadpool

from shopintent.log import get_logger

log = get_logger(__name__)

#: Seconds between two warnings about an unreachable rate-limit storage.
_WARN_EVERY_S = 30.0


def parse_limits(text: str, field_name: str) -> tuple[RateLimitItem, ...]:
    """``"20000/minute"`` or ``"200/second;20000/minute"`` (the ``limits`` notation) as items.

    An empty string means no limit for that bucket.
    """
    if not text.strip():
        return ()
    try:
        return tuple(parse_many(text))
    except ValueError as exc:
        raise ValueError(f"{field_name} {text!r} is not a rate limit: write e.g. '20000/minute' or "
                         "'200/second;20000/minute'") from exc


class LocalSlidingWindow:
    """The sliding-window counter of ``limits`` for one process, without its expiry thread.

    Per (item, bucket, identity) it keeps the counts of the current and the previous
    fixed window; a hit is allowed while ``previous × (share of the previous window
    still inside the sliding window) + current < limit``. Entries of identities that
    went quiet are dropped when their window ends (checked once per window).
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, str], tuple[int, int, int]] = {}
        self._swept_at = 0.0

    def hit(self, item: RateLimitItem, bucket: str, identity: str, now: float | None = None) -> float | None:
        """Count one request; ``None`` when allowed, else the seconds until a request would be."""
        now = time.time() if now is None else now
        period = float(item.get_expiry())
        window = int(now // period)
        key = (id(item), bucket, identity)
        start, previous, current = self._counts.get(key, (window, 0, 0))
        if start != window:  # the window moved on: what was current is previous (if adjacent)
            previous, current = (current if start == window - 1 else 0), 0
        weight = 1.0 - (now - window * period) / period
        if previous * weight + current >= item.amount:
            self._counts[key] = (window, previous, current)
            return max(1.0, math.ceil((window + 1) * period - now))
        self._counts[key] = (window, previous, current + 1)
        if now - self._swept_at > period:
            self._sweep(window, now)
        return None

    def _sweep(self, window: int, now: float) -> None:
        self._swept_at = now
        stale = [k for k, (start, _, _) in self._counts.items() if start < window - 1]
        for key in stale:
            del self._counts[key]


class RateLimiter:
    """Counts requests per (bucket, identity) and says how long an over-limit caller must wait."""

    def __init__(self, limits_by_bucket: Mapping[str, tuple[RateLimitItem, ...]],
                 storage_uri: str = "memory://") -> None:
        self.limits = dict(limits_by_bucket)
        self.storage: Storage = storage_from_string(storage_uri)
        # Two counters per (bucket, identity) whatever the limit: a moving window keeps one
        # timestamp per request in the window (20,000 per key at the default read limit) and
        # shifts that list on every hit.
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        # Redis is a network call: keep it off the event loop. Memory is a dict update.
        self._blocking = not storage_uri.startswith("memory://")
        self._local = None if self._blocking else LocalSlidingWindow()
        self._warned_at = 0.0

    def __repr__(self) -> str:
        spec = {b: ";".join(str(i) for i in items) for b, items in self.limits.items()}
        return f"RateLimiter({spec}, storage={type(self.storage).__name__})"

    def hit(self, bucket: str, identity: str) -> float | None:
        """Count one request; ``None`` when allowed, else the seconds until it would be."""
        waits = []
        if self._local is not None:
            for item in self.limits.get(bucket, ()):
                wait = self._local.hit(item, bucket, identity)
                if wait is not None:
                    waits.append(wait)
            return max(waits) if waits else None
        for item in self.limits.get(bucket, ()):
            if not self.strategy.hit(item, bucket, identity):
                reset_at = self.strategy.get_window_stats(item, bucket, identity).reset_time
                waits.append(max(1.0, math.ceil(reset_at - time.time())))
        return max(waits) if waits else None

    async def retry_after(self, bucket: str, identity: str) -> float | None:
        """:meth:`hit` from async code (in a worker thread when the storage is remote)."""
        if not self.limits.get(bucket):
            return None
        if not self._blocking:
            return self.hit(bucket, identity)
        try:
            return await run_in_threadpool(self.hit, bucket, identity)
        except Exception as exc:  # noqa: BLE001 - any storage failure: let the request through
            now = time.monotonic()
            if now - self._warned_at > _WARN_EVERY_S:
                self._warned_at = now
                log.warning("rate-limit storage unreachable; requests are not limited",
                            storage=type(self.storage).__name__, error=type(exc).__name__)
            return None

    def reset(self) -> None:
        """Forget every count (tests, or an operator clearing a lock-out)."""
        self.storage.reset()
