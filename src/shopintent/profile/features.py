"""The columns of a shopper profile's raw features, shared by the batch and the incremental path.

Why one module: the batch SQL and the incremental accumulators must produce
exactly the same table (a test compares them on the real Taobao log), so the
column names, the session gap, how many top categories and last intents a
profile keeps, and the final derived columns are defined once, here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Inactivity that starts a new session (minutes), the store's rule (client session ids are not used).
GAP_MINUTES = 30.0
#: Categories kept per profile, by event count (ties: smaller category id first).
TOP_CATEGORIES = 3
#: Most recent intent signals kept per profile (cart, favourite, purchase: a view is not an intent).
LAST_INTENTS = 3
#: Event types that count as an intent signal.
INTENT_EVENTS: tuple[str, ...] = ("add_to_cart", "favourite", "purchase")
#: Event types counted one by one.
COUNTED_EVENTS: tuple[str, ...] = ("view", "add_to_cart", "favourite", "purchase")
#: Microseconds in a day (``active_days`` counts distinct UTC days of epoch µs).
DAY_US = 86_400_000_000

#: The columns of the raw profile table (index ``user_id``).
RAW_COLUMNS: tuple[str, ...] = (
    "events", "sessions", "items", "categories",
    *(f"n_{t}" for t in COUNTED_EVENTS),
    "first_seen", "last_seen", "active_days", "priced_events", "price_sum",
    "top_categories", "last_intents",
)


def finish(raw: pd.DataFrame) -> pd.DataFrame:
    """Derived columns (shares, events per session, mean price) from the raw counts; sorted by user.

    Both paths call this on their raw table, so a derived number cannot differ
    between them by the order of floating-point operations.
    """
    out = raw.loc[:, list(RAW_COLUMNS)].copy().sort_index()
    out.index = out.index.astype(str)
    out.index.name = "user_id"
    for column in ("events", "sessions", "items", "categories", "active_days", "priced_events",
                   *(f"n_{t}" for t in COUNTED_EVENTS)):
        out[column] = out[column].astype("int64")
    out["price_sum"] = out["price_sum"].astype(float)
    out["events_per_session"] = out["events"] / out["sessions"]
    for name in COUNTED_EVENTS:
        out[f"share_{name}"] = out[f"n_{name}"] / out["events"]
    out["mean_price"] = (out["price_sum"] / out["priced_events"].where(out["priced_events"] > 0)).astype(float)
    out["first_seen"] = pd.to_datetime(out["first_seen"], utc=True).astype("datetime64[us, UTC]")
    out["last_seen"] = pd.to_datetime(out["last_seen"], utc=True).astype("datetime64[us, UTC]")
    out["top_categories"] = out["top_categories"].map(lambda v: [str(x) for x in v])
    out["last_intents"] = out["last_intents"].map(lambda v: [str(x) for x in v])
    return out


def intent_label(event_type: str, category_id: object) -> str:
    """``"purchase:4756105"``: what the shopper signalled, and in which category."""
    category = "" if category_id is None or (isinstance(category_id, float) and np.isnan(category_id)) \
        or pd.isna(category_id) else str(category_id)
    return f"{event_type}:{category}"
