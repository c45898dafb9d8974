"""One shopper's past and open session, kept live exactly as the training table sees them.

Why this module: the behaviour models are trained on rows whose ``prior_*``
features come from the shopper's *earlier* sessions
(:func:`~shopintent.behaviour.examples.build_prefix_table` folds each finished
session into a :class:`~shopintent.behaviour.features.UserHistory`). A live
scorer that starts every session from an empty history scores features the
models never saw. :class:`ShopperRecord` holds what a live service needs to
rebuild the very same row: the history of closed sessions and the events of the
session still open. When an event arrives for another session, the open one is
replayed through :class:`~shopintent.behaviour.features.SessionFeatureState` and
absorbed, which is what the training replay does at a session boundary.

:func:`shopper_records` builds the records from a sessionised event table (the
store on service start), in the training replay's order, so a restarted service
continues with the scores it would have had without the restart.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shopintent.behaviour.examples import ordered_events
from shopintent.behaviour.features import SessionFeatureState, UserHistory

#: One event of an open session: (event type, unix seconds, item id, category id).
OpenEvent = tuple[str, float, str | None, str | None]
#: Events kept for an open session; a longer session (a crawler) is absorbed and restarted.
MAX_OPEN_EVENTS = 5_000


@dataclass
class ShopperRecord:
    """A shopper's closed-session history and the events of the open session."""

    history: UserHistory = field(default_factory=UserHistory)
    open_session: str | None = None
    open_events: list[OpenEvent] = field(default_factory=list)

    def add(self, session_id: str, event: OpenEvent) -> None:
        """Add one event of ``session_id``; a new session closes (absorbs) the open one.

        Events of the open session are kept in time order (ties in arrival
        order), as the training replay orders them by time and ingest order.
        """
        if session_id != self.open_session or len(self.open_events) >= MAX_OPEN_EVENTS:
            self.close()
            self.open_session = session_id
        if not self.open_events or event[1] >= self.open_events[-1][1]:
            self.open_events.append(event)
        else:  # a late event: into its place by time
            times = [e[1] for e in self.open_events]
            self.open_events.insert(bisect.bisect_right(times, event[1]), event)

    def close(self) -> None:
        """Fold the open session into the history (nothing to do when none is open)."""
        if self.open_events:
            self.history.absorb(self.session_state())
        self.open_session = None
        self.open_events = []

    def session_state(self, utc_offset_hours: float = 0.0) -> SessionFeatureState:
        """The open session replayed into a fresh :class:`SessionFeatureState` over the history."""
        state = SessionFeatureState(self.history, utc_offset_hours)
        for event_type, ts, item, category in self.open_events:
            state.update(event_type, ts, item, category)
        return state

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (for Redis)."""
        return {"history": self.history.to_dict(), "open_session": self.open_session,
                "open_events": [list(e) for e in self.open_events]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShopperRecord:
        events = data.get("open_events") or []
        return cls(history=UserHistory.from_dict(data["history"]),
                   open_session=data.get("open_session"),
                   open_events=[(str(e[0]), float(e[1]), e[2], e[3]) for e in events]
                   if isinstance(events, list) else [])


def shopper_records(events: pd.DataFrame, open_after_s: float,
                    open_session_ids: dict[str, str] | None = None) -> dict[str, ShopperRecord]:
    """Records of every shopper in sessionised ``events`` (the store's sessionisation).

    Sessions are replayed in the training table's order (user, time, ingest
    order). A shopper's last session stays open when its last event is at or
    after ``open_after_s`` (unix seconds; usually the newest event time minus
    the session gap), else it is absorbed too. ``open_session_ids`` maps a
    store session id to the id the live service uses for it (default: the
    store's id).
    """
    records: dict[str, ShopperRecord] = {}
    if events.empty:
        return records
    frame = ordered_events(events)
    rename = open_session_ids or {}
    users = frame["user_id"].astype(str).to_numpy()
    sessions = frame["session_id"].astype(str).to_numpy()
    types = frame["event_type"].astype(str).to_numpy()
    items = frame["item_id"].astype(object).where(frame["item_id"].notna(), None).to_numpy()
    cats = frame["category_id"].astype(object).where(frame["category_id"].notna(), None).to_numpy()
    seconds = frame["ts"].to_numpy()
    for user, sid, kind, item, cat, ts in zip(users, sessions, types, items, cats, seconds,
                                              strict=True):
        record = records.setdefault(user, ShopperRecord())
        record.add(rename.get(sid, sid), (kind, float(ts), None if item is None else str(item),
                                          None if cat is None else str(cat)))
    for record in records.values():
        if record.open_events and record.open_events[-1][1] < open_after_s:
            record.close()
    return records
