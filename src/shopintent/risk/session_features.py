"""Session features and reason codes of the session anomaly detector, without scikit-learn.

Why a module of its own: the service scores live sessions with the detector's
trees as plain arrays (:class:`~shopintent.risk.session_scorer.SessionRiskScorer`)
and needs these features and the :class:`Reason` record, while the detector
itself (:class:`~shopintent.risk.anomaly.AnomalyDetector`, which re-exports both)
is a scikit-learn estimator whose import would cost the service's start about
half a CPU second. The feature definitions are documented in :mod:`shopintent.risk.anomaly`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SESSION_FEATURES", "Reason", "session_features", "sessionise"]

SESSION_FEATURES: tuple[str, ...] = (
    "n_events", "duration_s", "events_per_min", "gap_median_s", "gap_cv", "distinct_item_share",
    "distinct_categories", "cart_without_view_share", "cart_share", "purchase_share", "night_share",
)
_EVENT_COLUMNS = ("user_id", "item_id", "category_id", "event_type", "timestamp")


def sessionise(events: pd.DataFrame, gap_minutes: float = 30.0) -> pd.Series:
    """A session id per event: a user's events split where the gap exceeds ``gap_minutes``.

    Returned in the input's index; ids are ``"<user>:<n>"`` with ``n`` counted per user.
    """
    missing = [c for c in _EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise ValueError(f"events lack the column(s) {missing}")
    ordered = events.sort_values(["user_id", "timestamp"], kind="stable")
    user = ordered["user_id"].astype(str)
    gap = ordered["timestamp"].diff().dt.total_seconds()
    new = (user != user.shift()) | (gap > gap_minutes * 60.0)
    number = new.astype(int).groupby(user).cumsum()
    return (user + ":" + number.astype(str)).reindex(events.index)


def session_features(events: pd.DataFrame, gap_minutes: float = 30.0, utc_offset_hours: float = 8.0) -> pd.DataFrame:
    """One row of :data:`SESSION_FEATURES` per session (index: session id), from canonical events.

    ``utc_offset_hours`` places "night" in the shop's time zone (Taobao: China, UTC+8).
    """
    frame = events[list(_EVENT_COLUMNS)].copy()
    frame["session"] = sessionise(frame, gap_minutes)
    frame = frame.sort_values(["session", "timestamp"], kind="stable")
    seconds = (frame["timestamp"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    frame["t"] = seconds
    frame["gap"] = frame.groupby("session")["t"].diff()
    local_hour = ((seconds / 3600.0 + utc_offset_hours) % 24.0).astype(int)
    frame["night"] = (local_hour < 6).astype(float)
    kind = frame["event_type"].astype(str)
    frame["is_view"], frame["is_cart"] = kind.eq("view"), kind.eq("add_to_cart")
    frame["is_purchase"] = kind.eq("purchase")
    # a cart of an item the session has not viewed before (or at) that moment
    viewed_before = frame.assign(v=frame["is_view"].astype(int)).groupby(["session", "item_id"])["v"].cumsum() > 0
    frame["cart_no_view"] = frame["is_cart"] & ~viewed_before
    grouped = frame.groupby("session", sort=True)
    n = grouped.size().astype(float)
    duration = grouped["t"].max() - grouped["t"].min()
    gap_mean = grouped["gap"].mean()
    gap_std = grouped["gap"].std(ddof=0)
    carts = grouped["is_cart"].sum().astype(float)
    out = pd.DataFrame({
        "n_events": n,
        "duration_s": duration,
        "events_per_min": n / np.maximum(duration / 60.0, 1.0),
        "gap_median_s": grouped["gap"].median().fillna(0.0),
        "gap_cv": (gap_std / gap_mean.replace(0.0, np.nan)).fillna(0.0),
        "distinct_item_share": grouped["item_id"].nunique() / n,
        "distinct_categories": grouped["category_id"].nunique().astype(float),
        "cart_without_view_share": (grouped["cart_no_view"].sum() / carts.replace(0.0, np.nan)).fillna(0.0),
        "cart_share": carts / n,
        "purchase_share": grouped["is_purchase"].sum() / n,
        "night_share": grouped["night"].mean(),
    })
    return out[list(SESSION_FEATURES)].astype(float)


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature on which a session lies outside what real sessions do."""

    feature: str
    value: float
    quantile: float
    side: str
    reference: float

    def text(self) -> str:
        """The reason as a sentence for a reviewer."""
        share = f"{self.quantile:.0%}" if self.side == "above" else f"{1 - self.quantile:.0%}"
        seen = "max" if self.side == "above" else "min"
        return (f"{self.feature} {self.value:.3g} {self.side} {share} of real sessions "
                f"({seen} seen {self.reference:.3g})")
