"""In-process session state: a dict, pruned to the most recently active sessions."""

from __future__ import annotations

import heapq
import threading

from shopintent.serve.state.base import (
    COUNTED_TYPES,
    LiveEvent,
    LiveSessionState,
    LiveSessionStore,
    Transition,
    derived_session_id,
    fold,
)


class MemorySessionStore(LiveSessionStore):
    """Sessions of one process; ``max_sessions`` bounds memory (oldest activity dropped first)."""

    def __init__(self, gap_s: float, max_sessions: int = 100_000) -> None:
        super().__init__(gap_s)
        self.max_sessions = max_sessions
        self._sessions: dict[str, LiveSessionState] = {}
        self._users: dict[str, tuple[str, float]] = {}  # user -> (derived session id, last ts)
        self._clock = 0.0
        self._lock = threading.Lock()

    def _session_for(self, event: LiveEvent) -> str:
        if event.session_id is not None:
            return event.session_id
        current = self._users.get(event.user_id)
        if current is not None and event.ts - current[1] <= self.gap_s:
            sid, last = current
            self._users[event.user_id] = (sid, max(last, event.ts))
            return sid
        sid = derived_session_id(event.user_id, event.ts)
        self._users[event.user_id] = (sid, event.ts)
        return sid

    def apply(self, events: list[LiveEvent]) -> list[Transition]:
        touched: dict[str, set[str]] = {}
        members: dict[str, list[str]] = {}
        with self._lock:
            for event in events:
                sid = self._session_for(event)
                before = self._sessions.get(sid)
                seen = before.counts.get(event.event_type, 0) if before else 0
                self._sessions[sid] = fold(before, event, sid)
                members.setdefault(sid, []).append(event.event_id)
                new = touched.setdefault(sid, set())
                if seen == 0 and event.event_type not in new:
                    new.add(event.event_type)
                self._clock = max(self._clock, event.ts)
            if len(self._sessions) > self.max_sessions:
                self._prune()
            return [Transition(self._copy(self._sessions[s]), frozenset(t), tuple(members[s]))
                    for s, t in touched.items() if s in self._sessions]

    @staticmethod
    def _copy(state: LiveSessionState) -> LiveSessionState:
        """What ``from_dict(to_dict())`` gives (the Redis backend's round trip), built directly."""
        return LiveSessionState(
            session_id=state.session_id, user_id=state.user_id, start=float(state.start),
            last=float(state.last),
            counts={t: int(state.counts[t]) for t in COUNTED_TYPES if state.counts.get(t)},
            items=list(state.items), categories=list(state.categories),
            revenue=round(float(state.revenue), 2), cart_value=round(float(state.cart_value), 2),
            events=[list(e) for e in state.events])

    def _prune(self) -> None:
        keep = int(self.max_sessions * 0.9)
        newest = heapq.nlargest(keep, self._sessions.values(), key=lambda s: s.last)
        self._sessions = {s.session_id: s for s in newest}
        self._users = {u: v for u, v in self._users.items() if v[0] in self._sessions}

    def get(self, session_id: str) -> LiveSessionState | None:
        with self._lock:
            state = self._sessions.get(session_id)
            return self._copy(state) if state else None

    def recent(self, limit: int) -> list[LiveSessionState]:
        with self._lock:
            live = [s for s in self._sessions.values() if s.last >= self._clock - self.gap_s]
            top = heapq.nlargest(limit, live, key=lambda s: (s.last, s.session_id))
            return [self._copy(s) for s in top]

    def clock(self) -> float:
        return self._clock

    def count_live(self) -> int:
        with self._lock:
            return sum(1 for s in self._sessions.values() if s.last >= self._clock - self.gap_s)
