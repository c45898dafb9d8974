"""Session features updated in O(1) per event, the same code for training and live scoring.

Why one incremental class: a feature computed one way offline and another way
online is the classic silent bug of behavioural models. :class:`SessionFeatureState`
takes events one at a time and can be read (:meth:`SessionFeatureState.vector`) after
any of them; the training table is built by replaying the log through it, and
the live :class:`~shopintent.behaviour.scorer.SessionScorer` calls the very
same ``update``. A state only ever sees events that already happened, so the
features at event *k* cannot use anything after it (``tests/behaviour`` checks
this on the real log by truncating it).

:class:`UserHistory` carries what a shopper did in *earlier* sessions (counts,
items still sitting in the cart) and is updated when a session is closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Event types the models see; others (search, remove_from_cart) update only counts of "other".
ACTIONS: tuple[str, ...] = ("view", "add_to_cart", "favourite", "purchase")
_ACTION_INDEX = {name: i for i, name in enumerate(ACTIONS)}
_OTHER = len(ACTIONS)

FEATURE_NAMES: tuple[str, ...] = (
    "k", "n_view", "n_add_to_cart", "n_favourite", "n_purchase", "n_other",
    "share_view", "share_add_to_cart", "share_favourite",
    "n_items", "n_categories", "items_per_event",
    "duration_s", "mean_gap_s", "last_gap_s", "max_gap_s",
    "last_view", "last_add_to_cart", "last_favourite", "last_purchase",
    "prev_view", "prev_add_to_cart", "prev_favourite", "prev_purchase",
    "last_item_events", "last_item_views", "last_item_carted", "last_item_faved",
    "last_category_events", "same_item_run", "open_cart_items", "faved_items",
    "last_item_seen_before", "last_item_in_prior_cart", "last_item_prior_bought",
    "hour", "weekday",
    "prior_sessions", "prior_events", "prior_views", "prior_carts", "prior_favs", "prior_purchases",
    "prior_buy_sessions", "prior_open_carts", "prior_items", "since_prior_h",
)
N_FEATURES = len(FEATURE_NAMES)


@dataclass
class UserHistory:
    """What one shopper did before the current session (updated as sessions close)."""

    sessions: int = 0
    events: int = 0
    counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    buy_sessions: int = 0
    last_ts: float | None = None
    items: set[str] = field(default_factory=set)
    open_cart: set[str] = field(default_factory=set)
    bought: set[str] = field(default_factory=set)

    def absorb(self, state: SessionFeatureState) -> None:
        """Fold a finished session into the history."""
        if state.k == 0:
            return
        self.sessions += 1
        self.events += state.k
        for i in range(4):
            self.counts[i] += state.counts[i]
        self.buy_sessions += int(state.counts[3] > 0)
        self.last_ts = state.last_ts
        self.items |= state.item_events.keys()
        self.open_cart |= state.carted
        self.open_cart -= state.bought
        self.bought |= state.bought

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready copy (for a session store such as Redis)."""
        return {"sessions": self.sessions, "events": self.events, "counts": list(self.counts),
                "buy_sessions": self.buy_sessions, "last_ts": self.last_ts, "items": sorted(self.items),
                "open_cart": sorted(self.open_cart), "bought": sorted(self.bought)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> UserHistory:
        return cls(sessions=int(data["sessions"]), events=int(data["events"]),  # type: ignore[arg-type]
                   counts=list(data["counts"]), buy_sessions=int(data["buy_sessions"]),  # type: ignore[arg-type]
                   last_ts=data["last_ts"], items=set(data["items"]),  # type: ignore[arg-type]
                   open_cart=set(data["open_cart"]), bought=set(data["bought"]))  # type: ignore[arg-type]


class SessionFeatureState:
    """Running feature aggregates of one session; :meth:`update` is O(1) per event.

    The one source of the behaviour models' features, for training rows and live
    scores alike (not the service's ``LiveSessionState``, which holds what the API
    shows, nor the decision replay's ``SessionCounts``).
    ``utc_offset_hours`` shifts timestamps to the shop's local time for the
    hour-of-day and weekday features (Taobao: +8).
    """

    __slots__ = ("history", "utc_offset_s", "k", "counts", "first_ts", "last_ts", "max_gap",
                 "last_gap", "last_type", "prev_type", "item_events", "item_views", "category_events",
                 "carted", "faved", "bought", "last_item", "last_category", "run")

    def __init__(self, history: UserHistory | None = None, utc_offset_hours: float = 0.0) -> None:
        self.history = history if history is not None else UserHistory()
        self.utc_offset_s = utc_offset_hours * 3600.0
        self.k = 0
        self.counts = [0, 0, 0, 0, 0]
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.max_gap = 0.0
        self.last_gap = math.nan
        self.last_type = -1
        self.prev_type = -1
        self.item_events: dict[str, int] = {}
        self.item_views: dict[str, int] = {}
        self.category_events: dict[str, int] = {}
        self.carted: set[str] = set()
        self.faved: set[str] = set()
        self.bought: set[str] = set()
        self.last_item: str | None = None
        self.last_category: str | None = None
        self.run = 0

    def update(self, event_type: str, timestamp: float, item_id: str | None = None,
               category_id: str | None = None) -> None:
        """Add one event (``timestamp`` in seconds since the epoch, non-decreasing)."""
        kind = _ACTION_INDEX.get(event_type, _OTHER)
        if self.k == 0:
            self.first_ts = timestamp
        else:
            if timestamp < self.last_ts:
                raise ValueError(f"event at {timestamp} is earlier than the session's last event "
                                 f"({self.last_ts}); feed events in time order")
            gap = timestamp - self.last_ts
            self.last_gap = gap
            if gap > self.max_gap:
                self.max_gap = gap
        self.k += 1
        self.counts[kind] += 1
        self.last_ts = timestamp
        self.prev_type, self.last_type = self.last_type, kind
        if item_id is not None:
            self.run = self.run + 1 if item_id == self.last_item else 1
            self.item_events[item_id] = self.item_events.get(item_id, 0) + 1
            if kind == 0:
                self.item_views[item_id] = self.item_views.get(item_id, 0) + 1
            elif kind == 1:
                self.carted.add(item_id)
            elif kind == 2:
                self.faved.add(item_id)
            elif kind == 3:
                self.bought.add(item_id)
            elif event_type == "remove_from_cart":
                self.carted.discard(item_id)
            self.last_item = item_id
        if category_id is not None:
            self.category_events[category_id] = self.category_events.get(category_id, 0) + 1
            self.last_category = category_id

    def vector(self, out: np.ndarray | None = None) -> np.ndarray:
        """The :data:`FEATURE_NAMES` values after the events seen so far."""
        if self.k == 0:
            raise ValueError("the session has no events yet; call update() first")
        k, c, h = self.k, self.counts, self.history
        duration = self.last_ts - self.first_ts
        item = self.last_item
        local = self.last_ts + self.utc_offset_s
        values = (
            k, c[0], c[1], c[2], c[3], c[4],
            c[0] / k, c[1] / k, c[2] / k,
            len(self.item_events), len(self.category_events), len(self.item_events) / k,
            duration, duration / (k - 1) if k > 1 else math.nan, self.last_gap,
            self.max_gap if k > 1 else math.nan,
            self.last_type == 0, self.last_type == 1, self.last_type == 2, self.last_type == 3,
            self.prev_type == 0, self.prev_type == 1, self.prev_type == 2, self.prev_type == 3,
            self.item_events.get(item, 0) if item else 0, self.item_views.get(item, 0) if item else 0,
            item in self.carted, item in self.faved,
            self.category_events.get(self.last_category, 0) if self.last_category else 0,
            self.run, len(self.carted - self.bought), len(self.faved),
            item in h.items, item in h.open_cart, item in h.bought,
            (local % 86400.0) / 3600.0, ((local // 86400.0) + 3) % 7,
            h.sessions, h.events, h.counts[0], h.counts[1], h.counts[2], h.counts[3],
            h.buy_sessions, len(h.open_cart), len(h.items),
            (self.first_ts - h.last_ts) / 3600.0 if h.last_ts is not None else math.nan,
        )
        if out is None:
            return np.array(values, dtype=np.float64)
        out[:] = values
        return out
