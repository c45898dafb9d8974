"""Shopper profiles kept up to date as events arrive, equal to the batch profile at every moment.

Why a second path: rebuilding every profile from the whole store after each
batch of events costs a full scan; a service wants to fold in only what an
append added (``EventStore.events_after(seq)``). Each shopper keeps small
accumulators: counts, the sets of items, categories and active days, the
sorted event times (so sessions stay exact even when a late event lands
between two earlier ones) and the newest intent signals. :meth:`features`
gives the same table as :func:`~shopintent.profile.batch.batch_profile_features`
over all events folded in so far (``tests/profile`` proves it on the Taobao log).

Example::

    >>> from shopintent.samples import taobao_sessions
    >>> events = taobao_sessions(2000)
    >>> profiles = IncrementalProfiles()
    >>> profiles.update(events.iloc[:1000]); profiles.update(events.iloc[1000:])
    >>> int(profiles.features()["events"].sum())
    2000
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from shopintent.profile.features import (
    COUNTED_EVENTS,
    DAY_US,
    GAP_MINUTES,
    INTENT_EVENTS,
    LAST_INTENTS,
    TOP_CATEGORIES,
    finish,
    intent_label,
)

_REQUIRED = ("user_id", "timestamp", "event_type")


@dataclass
class ShopperAccumulator:
    """What one shopper's profile needs to be updated without reading their older events."""

    times_us: list[int] = field(default_factory=list)
    sessions: int = 0
    types: Counter[str] = field(default_factory=Counter)
    items: set[str] = field(default_factory=set)
    categories: Counter[str] = field(default_factory=Counter)
    days: set[int] = field(default_factory=set)
    priced_events: int = 0
    price_sum: float = 0.0
    #: (time µs, seq, label) of the newest intent signals, oldest first, at most LAST_INTENTS.
    intents: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, ts_us: int, seq: int, event_type: str, item: str | None, category: str | None,
            price: float | None, gap_us: int) -> None:
        """Fold in one event; sessions are recounted locally around its place in time."""
        k = bisect.bisect_right(self.times_us, ts_us)
        before = self.times_us[k - 1] if k > 0 else None
        after = self.times_us[k] if k < len(self.times_us) else None
        # sessions = 1 + gaps longer than the limit; a new time only changes the gaps beside it.
        if before is None and after is None:
            self.sessions = 1
        else:
            self.sessions += (before is not None and ts_us - before > gap_us) \
                + (after is not None and after - ts_us > gap_us) \
                - (before is not None and after is not None and after - before > gap_us)
        self.times_us.insert(k, ts_us)
        self.types[event_type] += 1
        if item is not None:
            self.items.add(item)
        if category is not None:
            self.categories[category] += 1
        self.days.add(ts_us // DAY_US)
        if price is not None:
            self.priced_events += 1
            self.price_sum += price
        if event_type in INTENT_EVENTS:
            bisect.insort(self.intents, (ts_us, seq, intent_label(event_type, category)))
            del self.intents[:-LAST_INTENTS]

    def row(self) -> dict[str, object]:
        """This shopper's raw profile columns."""
        top = sorted(self.categories.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
        return {
            "events": len(self.times_us), "sessions": self.sessions, "items": len(self.items),
            "categories": len(self.categories),
            **{f"n_{t}": self.types.get(t, 0) for t in COUNTED_EVENTS},
            "first_seen": pd.Timestamp(self.times_us[0], unit="us", tz="UTC"),
            "last_seen": pd.Timestamp(self.times_us[-1], unit="us", tz="UTC"),
            "active_days": len(self.days), "priced_events": self.priced_events, "price_sum": self.price_sum,
            "top_categories": [c for c, _ in top],
            "last_intents": [label for _, _, label in reversed(self.intents)],
        }


class IncrementalProfiles:
    """Every shopper's accumulators; :meth:`update` folds in new events, :meth:`features` reads them."""

    def __init__(self, gap_minutes: float = GAP_MINUTES) -> None:
        if not gap_minutes > 0:
            raise ValueError(f"gap_minutes must be positive, not {gap_minutes!r}")
        self.gap_minutes = gap_minutes
        self.shoppers: dict[str, ShopperAccumulator] = {}
        self.n_events = 0

    def update(self, events: pd.DataFrame) -> None:
        """Fold in canonical events (any order; ``seq`` breaks ties in time, else arrival order)."""
        missing = [c for c in _REQUIRED if c not in events.columns]
        if missing:
            raise ValueError(f"events lack column(s) {', '.join(missing)}; pass canonical events (store schema)")
        if events.empty:
            return
        gap_us = int(round(self.gap_minutes * 60 * 1_000_000))
        ts = pd.to_datetime(events["timestamp"], utc=True)
        if ts.isna().any():
            row = int(ts.isna().to_numpy().argmax())
            raise ValueError(f"event row {row + 1}: `timestamp` is missing")
        ts_us = ts.astype("datetime64[us, UTC]").astype("int64").to_numpy()
        seq = (events["seq"].astype("int64").to_numpy() if "seq" in events.columns
               else range(self.n_events + 1, self.n_events + 1 + len(events)))
        n = len(events)
        empty = pd.Series([None] * n, index=events.index, dtype=object)
        items = events["item_id"] if "item_id" in events.columns else empty
        cats = events["category_id"] if "category_id" in events.columns else empty
        prices = events["price"] if "price" in events.columns else empty
        for user, t, s, kind, item, cat, price in zip(
                events["user_id"], ts_us, seq, events["event_type"], items, cats, prices, strict=True):
            acc = self.shoppers.get(str(user))
            if acc is None:
                acc = self.shoppers[str(user)] = ShopperAccumulator()
            acc.add(int(t), int(s), str(kind), None if pd.isna(item) else str(item),
                    None if pd.isna(cat) else str(cat), None if pd.isna(price) else float(price), gap_us)
        self.n_events += n

    def features(self) -> pd.DataFrame:
        """The raw profile table of every shopper seen so far (same columns as the batch path)."""
        if not self.shoppers:
            raise ValueError("no events folded in yet: there is no shopper to profile")
        raw = pd.DataFrame.from_dict({u: a.row() for u, a in self.shoppers.items()}, orient="index")
        return finish(raw)
