"""What a live session looks like and the interface every state backend keeps.

A backend folds newly *stored* events into per-session state. Only events the
store accepted as new reach it, so a re-delivered stream message or a retried
HTTP batch never counts twice. Events that carry a client ``session_id`` (already
pseudonymised) keep it; others are sessionised live with the store's rule: a
user's next event more than ``gap_s`` after the previous one opens a new
session (id ``<user pseudonym>~<unix start>``).

"Live" is judged on the stream's own clock (the newest event time seen), not
the wall clock, so a replay of 2017 data looks live while it plays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

#: How many recent items/categories a session keeps (for recommendations).
MAX_RECENT = 20
#: How many events a session keeps for re-scoring (type, unix seconds, item, category).
MAX_EVENTS = 200
#: Counted event types, in canonical order.
COUNTED_TYPES = ("view", "search", "add_to_cart", "remove_from_cart", "favourite", "purchase")


@dataclass
class LiveSessionState:
    """One session as the service sees it right now: counts, recent items, its last events.

    What the HTTP API shows and the adapters score from; the store of many is a
    :class:`LiveSessionStore`. (The decision replay's running counts are
    :class:`~shopintent.intervene.scoring.SessionCounts`, the behaviour models'
    features :class:`~shopintent.behaviour.features.SessionFeatureState`.)
    """

    session_id: str
    user_id: str
    start: float
    last: float
    counts: dict[str, int] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    revenue: float = 0.0
    cart_value: float = 0.0
    events: list[list[Any]] = field(default_factory=list)

    @property
    def n_events(self) -> int:
        return sum(self.counts.values())

    @property
    def duration_s(self) -> float:
        return self.last - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "start": self.start,
            "last": self.last,
            "counts": {t: int(self.counts.get(t, 0)) for t in COUNTED_TYPES},
            "items": list(self.items),
            "categories": list(self.categories),
            "revenue": round(float(self.revenue), 2),
            "cart_value": round(float(self.cart_value), 2),
            "events": [list(e) for e in self.events],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveSessionState:
        counts = data.get("counts") or {}
        items = data.get("items") or []
        categories = data.get("categories") or []
        events = data.get("events") or []
        return cls(
            session_id=str(data["session_id"]),
            user_id=str(data["user_id"]),
            start=float(data["start"]),
            last=float(data["last"]),
            counts={str(k): int(v) for k, v in dict(counts).items() if int(v)},
            # Redis' cjson writes an empty list as {}.
            items=[str(i) for i in items] if isinstance(items, list) else [],
            categories=[str(c) for c in categories] if isinstance(categories, list) else [],
            revenue=float(data.get("revenue", 0.0)),
            cart_value=float(data.get("cart_value", 0.0)),
            events=[list(e) for e in events] if isinstance(events, list) else [],
        )


@dataclass(frozen=True)
class Transition:
    """A session after one write group, and the event types it saw for the first time."""

    state: LiveSessionState
    new_types: frozenset[str]
    event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """The fields of a stored event that session state uses (ids already pseudonymised)."""

    event_id: str
    user_id: str
    session_id: str | None
    ts: float
    event_type: str
    item_id: str | None
    category_id: str | None
    revenue: float
    value: float


def live_events(frame: pd.DataFrame) -> list[LiveEvent]:
    """Stored canonical events (protected) in time order, as :class:`LiveEvent` records."""
    if frame.empty:
        return []
    ordered = frame.sort_values(["timestamp", "seq"] if "seq" in frame else ["timestamp"], kind="stable")
    instants = pd.to_datetime(ordered["timestamp"], utc=True)
    seconds = ((instants - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).tolist()
    price = ordered["price"].astype("float64").fillna(0.0).to_numpy()
    quantity = ordered["quantity"].astype("Float64").fillna(1.0).to_numpy(dtype="float64")
    values = (price * quantity).tolist()

    def text(column: str) -> list[str | None]:
        return [None if v is None else str(v) for v in
                ordered[column].astype(object).where(ordered[column].notna(), None).tolist()]

    types = ordered["event_type"].astype(str).tolist()
    return [
        LiveEvent(event_id=str(eid), user_id=str(uid), session_id=sid, ts=ts, event_type=etype,
                  item_id=item, category_id=cat, revenue=value if etype == "purchase" else 0.0,
                  value=value)
        for eid, uid, sid, ts, etype, item, cat, value in zip(
            text("event_id"), text("user_id"), text("session_id"), seconds, types, text("item_id"),
            text("category_id"), values, strict=True)
    ]


def live_events_from_records(records: Sequence[Mapping[str, Any]]) -> list[LiveEvent]:
    """Protected event records (as the event log holds them) in time order, as :class:`LiveEvent`.

    The request path's variant of :func:`live_events`: the same events from the
    JSON-ready records :func:`shopintent.store.ingest.protected_records` makes
    (ISO-8601 timestamps), without building a DataFrame for a write group of a
    few events. Ties in time keep the records' order, as ``seq`` does in the store.
    """
    out = []
    for record in records:
        ts = record["timestamp"]
        seconds = ts if isinstance(ts, int | float) else _iso_seconds(str(ts))
        price = record.get("price")
        quantity = record.get("quantity")
        value = (0.0 if price is None else float(price)) * (1.0 if quantity is None else float(quantity))
        etype = str(record["event_type"])

        def text(name: str) -> str | None:
            v = record.get(name)
            return None if v is None else str(v)

        out.append(LiveEvent(event_id=str(record["event_id"]), user_id=str(record["user_id"]),
                             session_id=text("session_id"), ts=float(seconds), event_type=etype,
                             item_id=text("item_id"), category_id=text("category_id"),
                             revenue=value if etype == "purchase" else 0.0, value=value))
    out.sort(key=lambda e: e.ts)  # stable: equal times keep ingest order
    return out


def _iso_seconds(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class LiveSessionStore(ABC):
    """Where live sessions are kept. Implementations must be safe to call from several threads."""

    def __init__(self, gap_s: float) -> None:
        if gap_s <= 0:
            raise ValueError(f"gap_s {gap_s} must be positive")
        self.gap_s = gap_s

    @abstractmethod
    def apply(self, events: list[LiveEvent]) -> list[Transition]:
        """Fold events (time-ordered) into their sessions; one transition per touched session."""

    @abstractmethod
    def get(self, session_id: str) -> LiveSessionState | None:
        """The session's state, or None if unknown (or expired)."""

    @abstractmethod
    def recent(self, limit: int) -> list[LiveSessionState]:
        """The sessions active within the gap of the stream clock, most recent first."""

    @abstractmethod
    def clock(self) -> float:
        """The newest event time seen (unix seconds), 0.0 before any event."""

    @abstractmethod
    def count_live(self) -> int:
        """How many sessions are active within the gap of the stream clock."""

    def close(self) -> None:
        """Release connections (nothing to do for in-process state)."""


def fold(state: LiveSessionState | None, event: LiveEvent, session_id: str) -> LiveSessionState:
    """One event folded into its session's state (the rule both backends implement)."""
    if state is None:
        state = LiveSessionState(session_id=session_id, user_id=event.user_id, start=event.ts, last=event.ts)
    state.start = min(state.start, event.ts)
    state.last = max(state.last, event.ts)
    state.counts[event.event_type] = state.counts.get(event.event_type, 0) + 1
    if event.item_id is not None:
        state.items.append(event.item_id)
        del state.items[:-MAX_RECENT]
    if event.category_id is not None:
        state.categories.append(event.category_id)
        del state.categories[:-MAX_RECENT]
    state.revenue += event.revenue
    if event.event_type == "add_to_cart":
        state.cart_value += event.value
    elif event.event_type == "remove_from_cart":
        state.cart_value = max(state.cart_value - event.value, 0.0)
    elif event.event_type == "purchase":
        state.cart_value = max(state.cart_value - event.value, 0.0)
    state.events.append([event.event_type, event.ts, event.item_id, event.category_id])
    del state.events[:-MAX_EVENTS]
    return state


def derived_session_id(user_id: str, start: float) -> str:
    """The id of a live-sessionised session: user pseudonym and start second."""
    return f"{user_id}~{int(start)}"
