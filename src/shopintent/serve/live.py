"""What the dashboard shows: rolling event rates, sessions by event type, intent mix, decisions.

Counts here are since the service started (a live view, not a report); the
event store holds the durable record. Rates use one-second buckets over a
fixed window, so the cost of an update is O(1) whatever the traffic. The
budget is not here: the decision engine owns its daily cap and its ledger,
and the dashboard reads both from it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

#: Event types counted per session (the JSON's ``funnel``): a session counts once at each type
#: it has at least one event of, whatever else it did. Not a strict funnel: a Taobao session
#: may buy without a cart event, so it counts at ``purchase`` and not at ``add_to_cart``.
FUNNEL_STAGES = ("view", "add_to_cart", "purchase")


class RateWindow:
    """Counts per wall-clock second over the last ``window_s`` seconds."""

    def __init__(self, window_s: int = 60, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self.window_s = window_s
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [second, count]
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        now = int(self._clock())
        with self._lock:
            if self._buckets and self._buckets[-1][0] == now:
                self._buckets[-1][1] += n
            else:
                self._buckets.append([now, n])
            self._trim(now)

    def _trim(self, now: int) -> None:
        while self._buckets and self._buckets[0][0] <= now - self.window_s:
            self._buckets.popleft()

    def series(self) -> list[tuple[int, int]]:
        """``(unix second, count)`` for every second of the window, oldest first (zeros filled)."""
        now = int(self._clock())
        with self._lock:
            self._trim(now)
            counts = {second: count for second, count in self._buckets}
        return [(s, counts.get(s, 0)) for s in range(now - self.window_s + 1, now + 1)]

    def rate(self, last_s: int = 10) -> float:
        """Mean count per second over the last ``last_s`` complete seconds (within the window).

        Summed from the buckets, not from :meth:`series`: the log writer sets the rate gauge
        after every write group, and a zero-filled series of the whole window per group
        cost more than the group's dedup claim."""
        now = int(self._clock())
        n = max(min(last_s + 1, self.window_s) - 1, 0)
        first = now - n
        with self._lock:
            total = sum(count for second, count in self._buckets if first <= second < now)
        return total / max(n, 1)


@dataclass
class LiveStats:
    """Running totals since start; thread-safe (the writer thread and handlers both update)."""

    window_s: int = 60
    events: RateWindow = field(init=False)
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    funnel: Counter[str] = field(default_factory=Counter)
    intents: Counter[tuple[str, str]] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    spend: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    started_at: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.events = RateWindow(self.window_s)

    def record_ingest(self, stored: int, duplicates: int, rejected: int) -> None:
        with self._lock:
            self.stored += stored
            self.duplicates += duplicates
            self.rejected += rejected
        if stored:
            self.events.add(stored)

    def record_stage(self, stage: str, n: int = 1) -> None:
        with self._lock:
            self.funnel[stage] += n

    def record_intent(self, language: str, intent: str) -> None:
        with self._lock:
            self.intents[(language, intent)] += 1

    def record_decision(self, action: str, cost: float) -> None:
        with self._lock:
            self.decisions[action] += 1
            self.spend += cost

    def record_outcome(self, kind: str) -> None:
        with self._lock:
            self.outcomes[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """Everything the dashboard draws except sessions, models and budget, as plain JSON."""
        with self._lock:
            intents: dict[str, dict[str, int]] = {}
            for (language, intent), n in self.intents.items():
                intents.setdefault(language, {})[intent] = n
            return {
                "uptime_s": round(time.time() - self.started_at, 1),
                "events": {
                    "stored": self.stored,
                    "duplicates": self.duplicates,
                    "rejected": self.rejected,
                    "per_second": round(self.events.rate(), 1),
                    "series": self.events.series(),
                },
                "funnel": [{"stage": s, "sessions": self.funnel.get(s, 0)} for s in FUNNEL_STAGES],
                "intents": intents,
                "decisions": dict(self.decisions),
                "outcomes": dict(self.outcomes),
                "spend": round(self.spend, 2),
            }
