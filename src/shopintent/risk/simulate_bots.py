"""A documented simulator of three bot patterns, to evaluate the unlabelled anomaly detector.

SIMULATION, not observed data: no public shop log labels its bots, so the
anomaly benchmark injects sessions generated here into held-out *real*
Taobao sessions and asks how many the detector catches at 1 % false alarms
on the real ones. Every table that reports these numbers says "simulated".
The patterns follow what shops describe; their parameters are assumptions,
stated here so a reader can judge them:

``scraper``
    Walks the catalogue: 60–300 views of almost always distinct items across
    many categories, one every 1–4 s with small jitter (±15 %), no carts or
    purchases, any hour.
``cart_hoarder``
    Holds stock: 15–60 add-to-cart events, ~80 % of them of items the session
    never viewed (added straight from a list or the API), 2–10 s apart,
    a few views, no purchase.
``coupon_farmer``
    A fresh account per coupon: 3–6 events — view one promoted item, cart it,
    buy it — 1–5 s apart, 70 % of them at night (00:00–06:00 shop time),
    the promoted item drawn from a small set shared by all farmers.

Items and categories are drawn from the real log, so item-level features
look like the real catalogue. Users are new ids (``sim-<pattern>-<n>``),
one session each.

>>> import numpy as np, pandas as pd
>>> catalogue = pd.DataFrame({"item_id": ["1", "2", "3"], "category_id": ["a", "a", "b"]})
>>> events = simulate("scraper", 2, catalogue, np.random.default_rng(0))
>>> sorted(events["event_type"].unique().tolist()), events["user_id"].nunique()
(['view'], 2)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PATTERNS", "simulate", "simulate_all"]

PATTERNS: tuple[str, ...] = ("scraper", "cart_hoarder", "coupon_farmer")
_START = pd.Timestamp("2017-11-25 00:00:00", tz="UTC")
_SPAN_S = 8 * 86400


def _times(rng: np.random.Generator, n: int, gap_low: float, gap_high: float, jitter: float,
           night: bool, utc_offset_hours: float) -> np.ndarray:
    gap = rng.uniform(gap_low, gap_high)
    gaps = gap * (1 + rng.uniform(-jitter, jitter, size=n - 1))
    if night:
        day = int(rng.integers(0, _SPAN_S // 86400))
        start = day * 86400 + rng.uniform(0, 6 * 3600) - utc_offset_hours * 3600
    else:
        start = rng.uniform(0, _SPAN_S - 3600)
    return start + np.concatenate([[0.0], np.cumsum(gaps)])


def simulate(pattern: str, n_sessions: int, catalogue: pd.DataFrame, rng: np.random.Generator,
             utc_offset_hours: float = 8.0) -> pd.DataFrame:
    """``n_sessions`` simulated sessions of ``pattern`` as canonical events (see the module docstring)."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
    items = catalogue[["item_id", "category_id"]].drop_duplicates("item_id").reset_index(drop=True)
    promoted = items.sample(n=min(5, len(items)), random_state=int(rng.integers(1 << 31)))
    rows = []
    for s in range(n_sessions):
        user = f"sim-{pattern}-{s}"
        if pattern == "scraper":
            n = int(rng.integers(60, 301))
            picks = items.iloc[rng.integers(0, len(items), size=n)]
            kinds = ["view"] * n
            t = _times(rng, n, 1.0, 4.0, 0.15, False, utc_offset_hours)
        elif pattern == "cart_hoarder":
            n_cart = int(rng.integers(15, 61))
            n_view = int(rng.integers(1, 5))
            picks = items.iloc[rng.integers(0, len(items), size=n_cart)]
            viewed = picks.sample(n=max(1, int(0.2 * n_cart)), random_state=int(rng.integers(1 << 31)))
            picks = pd.concat([picks.iloc[: n_view].head(0), viewed.head(n_view), picks])
            kinds = ["view"] * min(n_view, len(viewed)) + ["add_to_cart"] * n_cart
            t = _times(rng, len(kinds), 2.0, 10.0, 0.3, False, utc_offset_hours)
        else:
            item = promoted.iloc[[int(rng.integers(0, len(promoted)))]]
            extra = int(rng.integers(0, 4))
            picks = pd.concat([item] * (3 + extra))
            kinds = ["view"] * (1 + extra) + ["add_to_cart", "purchase"]
            t = _times(rng, len(kinds), 1.0, 5.0, 0.3, rng.random() < 0.7, utc_offset_hours)
        stamps = _START + pd.to_timedelta(np.round(t), unit="s")
        rows.append(pd.DataFrame({
            "user_id": user, "item_id": picks["item_id"].to_numpy()[: len(kinds)],
            "category_id": picks["category_id"].to_numpy()[: len(kinds)], "event_type": kinds,
            "timestamp": stamps, "simulated_pattern": pattern,
        }))
    return pd.concat(rows, ignore_index=True)


def simulate_all(n_per_pattern: int, catalogue: pd.DataFrame, seed: int = 0,
                 utc_offset_hours: float = 8.0) -> pd.DataFrame:
    """``n_per_pattern`` sessions of every pattern, one seeded generator for all."""
    rng = np.random.default_rng(seed)
    return pd.concat([simulate(p, n_per_pattern, catalogue, rng, utc_offset_hours) for p in PATTERNS],
                     ignore_index=True)
