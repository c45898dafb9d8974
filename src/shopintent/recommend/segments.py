"""K-means shopper segments on behaviour features, for the dashboard and targeting.

Each user is described by how much and how they shop (events, sessions,
distinct items and categories, the view/cart/favourite/purchase mix,
events per session); features are log-scaled where counts are heavy-tailed,
standardised, and clustered with K-means (fixed seed). Each segment is
reported with its size and its mean raw features, so a person can name it
("browsers", "decided buyers", …).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Per-user behaviour features the segments are built on.
FEATURES: tuple[str, ...] = (
    "events", "sessions", "items", "categories", "events_per_session",
    "share_view", "share_add_to_cart", "share_favourite", "share_purchase",
)
#: Count features clustered on log1p (heavy-tailed); profiles use the same list.
LOGGED_COLUMNS = ("events", "sessions", "items", "categories", "events_per_session")


def user_features(events: pd.DataFrame, gap_minutes: float = 30.0) -> pd.DataFrame:
    """One row per user with :data:`FEATURES` from a validated canonical event frame."""
    frame = events[["user_id", "timestamp", "event_type", "item_id", "category_id"]].copy()
    frame["user_id"] = frame["user_id"].astype(str)
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable")
    new_user = (frame["user_id"] != frame["user_id"].shift()).fillna(True).to_numpy(dtype=bool)
    gap = (frame["timestamp"].diff() > pd.Timedelta(minutes=gap_minutes)).fillna(True).to_numpy(dtype=bool)
    frame["_session"] = np.cumsum(new_user | gap)
    grouped = frame.groupby("user_id", sort=True)
    out = pd.DataFrame({
        "events": grouped.size(),
        "sessions": grouped["_session"].nunique(),
        "items": grouped["item_id"].nunique(),
        "categories": grouped["category_id"].nunique(),
    })
    out["events_per_session"] = out["events"] / out["sessions"]
    types = pd.crosstab(frame["user_id"], frame["event_type"].astype(str))
    for name in ("view", "add_to_cart", "favourite", "purchase"):
        column = types[name] if name in types.columns else 0
        out[f"share_{name}"] = (column / out["events"]).astype(float)
    return out[list(FEATURES)].astype(float)


@dataclass
class Segments:
    """K-means result: each user's segment, and each segment's size and mean features."""

    labels: pd.Series
    profiles: pd.DataFrame
    inertia: float
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "inertia": self.inertia, "features": list(FEATURES),
                "segments": self.profiles.reset_index().to_dict(orient="records")}


def segment_users(features: pd.DataFrame, k: int = 5, seed: int = 0) -> Segments:
    """Cluster users into ``k`` segments (standardised, log-scaled counts, K-means with ``seed``)."""
    from sklearn.cluster import KMeans

    if len(features) < k:
        raise ValueError(f"{len(features)} users cannot form {k} segments; lower k")
    x = features.copy()
    for column in LOGGED_COLUMNS:
        x[column] = np.log1p(x[column])
    x = (x - x.mean()) / x.std(ddof=0).replace(0.0, 1.0)
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x.to_numpy())
    labels = pd.Series(km.labels_, index=features.index, name="segment")
    profiles = features.groupby(labels).mean()
    profiles.insert(0, "users", labels.value_counts().sort_index())
    return Segments(labels=labels, profiles=profiles, inertia=float(km.inertia_), seed=seed)
