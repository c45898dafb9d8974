"""Prefix examples: one row per (session, first *k* events), with features and the three labels.

Labels are defined so that each asks what a shop wants to know *after* event
*k*, and none is already decided by the prefix:

- ``y_purchase`` — the session holds a purchase after event *k*. Defined only
  while the prefix has no purchase yet (after a purchase the question is moot).
  Sessions of exactly *k* events count (label 0): live, nobody knows the
  shopper has left.
- ``y_abandon`` — at least one item put in the cart within the prefix is **not
  bought by the same user within ``horizon_hours`` after that cart event**
  (default 24 h; the purchase may happen in a later session). Defined only when
  the prefix holds a cart; a cart whose horizon runs past ``label_end`` (the
  end of the data, or of the training period) is right-censored and its prefix
  is dropped, counted in :attr:`PrefixTable.censored`.
- ``y_next_<action>`` — multi-label: which of view / add_to_cart / favourite /
  purchase occur among the session's next ``next_window`` events (default 3).
  Defined when the session has at least one more event.

Features come from :class:`~shopintent.behaviour.features.SessionFeatureState`
replayed in time order, so row *k* only knows events 1..k of its session and
the user's earlier sessions.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shopintent.behaviour.features import ACTIONS, FEATURE_NAMES, N_FEATURES, SessionFeatureState, UserHistory

LABELS: tuple[str, ...] = ("y_purchase", "y_abandon", *(f"y_next_{a}" for a in ACTIONS))
NEXT_LABELS: tuple[str, ...] = tuple(f"y_next_{a}" for a in ACTIONS)
REQUIRED_COLUMNS: tuple[str, ...] = ("user_id", "session_id", "timestamp", "event_type", "item_id")


@dataclass
class PrefixTable:
    """Features (:data:`FEATURE_NAMES`), keys and labels (NaN where undefined).

    Keys: ``user_id``, ``session_id``, ``ts`` (time of event k, epoch
    seconds), ``item_id`` and ``category_id`` of event k (the sequence model
    embeds them).
    """

    frame: pd.DataFrame
    censored: int
    horizon_hours: float
    next_window: int
    max_k: int

    @property
    def X(self) -> pd.DataFrame:
        return self.frame[list(FEATURE_NAMES)]

    def task_rows(self, label: str, k: int | None = None) -> pd.DataFrame:
        """Rows where ``label`` is defined (optionally only prefix length ``k``)."""
        rows = self.frame[self.frame[label].notna()]
        return rows if k is None else rows[rows["k"] == k]


def _epoch_seconds(timestamps: pd.Series) -> np.ndarray:
    values = pd.to_datetime(timestamps, utc=True)
    return values.astype("datetime64[us, UTC]").astype("int64").to_numpy() / 1e6


def ordered_events(events: pd.DataFrame) -> pd.DataFrame:
    """Sessionised events sorted by user, time and ingest order, with ``ts`` in epoch seconds."""
    missing = [c for c in REQUIRED_COLUMNS if c not in events.columns]
    if missing:
        raise ValueError(f"events lack column(s) {missing}; pass the output of "
                         "shopintent.store.sessionise_frame (or EventStore.sessions)")
    order = ["user_id", "timestamp"] + (["seq"] if "seq" in events.columns else [])
    frame = events.sort_values(order, kind="stable").reset_index(drop=True)
    frame["ts"] = _epoch_seconds(frame["timestamp"])
    if "category_id" not in frame.columns:
        frame["category_id"] = pd.NA
    return frame


def build_prefix_table(events: pd.DataFrame, max_k: int = 20, horizon_hours: float = 24.0,
                       next_window: int = 3, label_end: pd.Timestamp | None = None,
                       utc_offset_hours: float = 0.0, sessions: set[str] | None = None) -> PrefixTable:
    """Replay sessionised ``events`` and emit one row per session prefix k = 1..``max_k``.

    ``sessions`` restricts the emitted rows (user histories still run over
    every event, so a test session knows its user's training-period past).
    ``label_end`` defaults to the last event's time.
    """
    frame = ordered_events(events)
    end_s = (frame["ts"].max() if label_end is None
             else pd.Timestamp(label_end).tz_convert("UTC").value / 1e9)
    arrays = _EventArrays.of(frame)
    cart_outcome = _CartOutcomes(frame, horizon_hours * 3600.0, end_s)
    rows = _Rows()
    boundaries = np.flatnonzero(
        np.r_[True, (arrays.sids[1:] != arrays.sids[:-1]) | (arrays.users[1:] != arrays.users[:-1]), True])
    history: UserHistory | None = None
    current_user = None
    for start, stop in zip(boundaries[:-1], boundaries[1:], strict=True):
        user, sid = arrays.users[start], arrays.sids[start]
        if user != current_user:
            history, current_user = UserHistory(), user
        state = SessionFeatureState(history, utc_offset_hours)
        emit = (sessions is None or sid in sessions) and arrays.ts[stop - 1] <= end_s
        _replay_session(arrays, start, stop, state, emit, cart_outcome, max_k, next_window, rows)
        history.absorb(state)  # type: ignore[union-attr]
    return PrefixTable(frame=rows.frame(), censored=rows.censored, horizon_hours=horizon_hours,
                       next_window=next_window, max_k=max_k)


@dataclass(frozen=True)
class _EventArrays:
    """The ordered events' columns as NumPy arrays (the replay loop indexes them per event)."""

    users: np.ndarray
    sids: np.ndarray
    types: np.ndarray
    items: np.ndarray
    cats: np.ndarray
    ts: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _EventArrays:
        return cls(
            users=frame["user_id"].to_numpy(dtype=object),
            sids=frame["session_id"].to_numpy(dtype=object),
            types=frame["event_type"].to_numpy(dtype=object),
            items=frame["item_id"].astype(object).where(frame["item_id"].notna(), None).to_numpy(),
            cats=frame["category_id"].astype(object).where(frame["category_id"].notna(), None).to_numpy(),
            ts=frame["ts"].to_numpy(),
        )


class _CartOutcomes:
    """Whether a cart event was abandoned: 1.0 when the same user did not buy the item within the horizon.

    NaN when the horizon runs past ``end_s`` (right-censored: the answer is not in the data).
    """

    def __init__(self, frame: pd.DataFrame, horizon_s: float, end_s: float) -> None:
        self.horizon_s, self.end_s = horizon_s, end_s
        self.purchases: dict[tuple[str, str], list[float]] = defaultdict(list)
        buys = frame[frame["event_type"] == "purchase"]
        for user, item, ts in zip(buys["user_id"], buys["item_id"], buys["ts"], strict=True):
            self.purchases[(user, item)].append(ts)

    def __call__(self, user: str, item: str, ts: float) -> float:
        if ts + self.horizon_s > self.end_s:
            return math.nan
        times = self.purchases.get((user, item), ())
        i = bisect.bisect_left(times, ts)
        return 0.0 if i < len(times) and times[i] <= ts + self.horizon_s else 1.0


@dataclass
class _Rows:
    """The prefix rows emitted so far: features, keys, labels and the censored count."""

    x: list[np.ndarray] = field(default_factory=list)
    keys: list[tuple[str, str, int, float, str | None, str | None]] = field(default_factory=list)
    labels: list[tuple[float, ...]] = field(default_factory=list)
    censored: int = 0

    def frame(self) -> pd.DataFrame:
        """Keys, :data:`FEATURE_NAMES` and :data:`LABELS` as one table."""
        X = np.vstack(self.x) if self.x else np.zeros((0, N_FEATURES))
        keys = self.keys
        table = pd.DataFrame(X, columns=list(FEATURE_NAMES))
        table.insert(0, "user_id", [k[0] for k in keys])
        table.insert(1, "session_id", [k[1] for k in keys])
        table.insert(2, "ts", np.array([k[3] for k in keys], dtype=float))
        table.insert(3, "item_id", pd.array([k[4] for k in keys], dtype="string"))
        table.insert(4, "category_id", pd.array([k[5] for k in keys], dtype="string"))
        label_frame = pd.DataFrame(self.labels, columns=list(LABELS), dtype=float)
        return pd.concat([table, label_frame], axis=1)


def _replay_session(arrays: _EventArrays, start: int, stop: int, state: SessionFeatureState, emit: bool,
                    cart_outcome: _CartOutcomes, max_k: int, next_window: int, rows: _Rows) -> None:
    """Feed one session's events to ``state``; when ``emit``, add a row per prefix k = 1..``max_k``."""
    types, items, cats, ts_all = arrays.types, arrays.items, arrays.cats, arrays.ts
    user, sid = arrays.users[start], arrays.sids[start]
    s_types = types[start:stop]
    n = stop - start
    if emit:
        later_buy = np.zeros(n + 1, dtype=bool)
        for j in range(n - 1, -1, -1):
            later_buy[j] = later_buy[j + 1] or s_types[j] == "purchase"
    cart_state = 0.0  # 0 no abandonment known, 1 abandoned, nan censored
    has_cart = False
    bought_yet = False
    for j in range(n):
        e = start + j
        state.update(s_types[j], ts_all[e], items[e], cats[e])
        if s_types[j] == "add_to_cart" and items[e] is not None and emit:
            has_cart = True
            outcome = cart_outcome(user, items[e], ts_all[e])
            cart_state = math.nan if math.isnan(outcome) or math.isnan(cart_state) else max(
                cart_state, outcome)
        if s_types[j] == "purchase":
            bought_yet = True
        k = j + 1
        if not emit or k > max_k:
            continue
        y_purchase = math.nan if bought_yet else float(later_buy[k])
        if has_cart and math.isnan(cart_state):
            rows.censored += 1
        y_abandon = cart_state if has_cart else math.nan
        if k < n:
            upcoming = set(s_types[k:k + next_window])
            y_next = tuple(float(a in upcoming) for a in ACTIONS)
        else:
            y_next = (math.nan,) * len(ACTIONS)
        rows.x.append(state.vector())
        rows.keys.append((user, sid, k, ts_all[e], items[e], cats[e]))
        rows.labels.append((y_purchase, y_abandon, *y_next))
