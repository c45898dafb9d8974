"""Raw profile features of every shopper from the event store, in portable SQL (DuckDB or Spark).

Three statements on the same ``events`` table, each in the subset of SQL both
engines share (window functions, ``CASE``, ``COUNT(DISTINCT …)``): per-user
counts and sessions, the top categories (ranked, long format) and the last
intent signals (ranked, long format). Lists are assembled in pandas because
the list aggregates of the two engines do not keep order the same way.
"""

from __future__ import annotations

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
from shopintent.store.engine import Dialect, Engine, check_identifier


def counts_sql(dialect: Dialect, source: str = "events", gap_minutes: float = GAP_MINUTES) -> str:
    """One row per user: counts by type, distinct items and categories, sessions, days, prices."""
    check_identifier(source)
    gap = int(round(gap_minutes * 60 * 1_000_000))
    ts_us = dialect.epoch_us("timestamp")
    by_type = ",\n        ".join(
        f"SUM(CASE WHEN event_type = '{t}' THEN 1 ELSE 0 END) AS n_{t}" for t in COUNTED_EVENTS)
    return f"""
WITH ordered AS (
    SELECT user_id, item_id, category_id, event_type, price, timestamp, seq, {ts_us} AS ts_us
    FROM {source}
),
flagged AS (
    SELECT *,
        CASE WHEN LAG(ts_us) OVER (PARTITION BY user_id ORDER BY ts_us, seq) IS NULL THEN 1
             WHEN ts_us - (LAG(ts_us) OVER (PARTITION BY user_id ORDER BY ts_us, seq)) > {gap} THEN 1
             ELSE 0 END AS is_new_session
    FROM ordered
)
SELECT
        user_id,
        COUNT(*) AS events,
        SUM(is_new_session) AS sessions,
        COUNT(DISTINCT item_id) AS items,
        COUNT(DISTINCT category_id) AS categories,
        {by_type},
        MIN(timestamp) AS first_seen,
        MAX(timestamp) AS last_seen,
        COUNT(DISTINCT CAST(FLOOR(ts_us / {DAY_US}) AS BIGINT)) AS active_days,
        COUNT(price) AS priced_events,
        COALESCE(SUM(price), 0.0) AS price_sum
FROM flagged
GROUP BY user_id
"""


def top_categories_sql(source: str = "events", top: int = TOP_CATEGORIES) -> str:
    """The ``top`` categories of each user by event count (ties: smaller id first), long format."""
    check_identifier(source)
    return f"""
WITH per AS (
    SELECT user_id, category_id, COUNT(*) AS n
    FROM {source} WHERE category_id IS NOT NULL
    GROUP BY user_id, category_id
),
ranked AS (
    SELECT user_id, category_id, n,
           ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY n DESC, category_id ASC) AS r
    FROM per
)
SELECT user_id, category_id, r FROM ranked WHERE r <= {int(top)}
"""


def last_intents_sql(dialect: Dialect, source: str = "events", last: int = LAST_INTENTS) -> str:
    """Each user's ``last`` intent signals (cart, favourite, purchase), newest first, long format."""
    check_identifier(source)
    kinds = ", ".join(f"'{k}'" for k in INTENT_EVENTS)
    ts_us = dialect.epoch_us("timestamp")
    return f"""
WITH ranked AS (
    SELECT user_id, event_type, category_id,
           ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY {ts_us} DESC, seq DESC) AS r
    FROM {source} WHERE event_type IN ({kinds})
)
SELECT user_id, event_type, category_id, r FROM ranked WHERE r <= {int(last)}
"""


def _lists(long: pd.DataFrame, users: pd.Index, value: pd.Series) -> pd.Series:
    """Per user, the values of ``long`` ordered by rank ``r`` (an empty list for users without any)."""
    frame = pd.DataFrame({"user_id": long["user_id"].astype(str).to_numpy(), "r": long["r"].astype(int).to_numpy(),
                          "value": value.to_numpy()}).sort_values(["user_id", "r"], kind="stable")
    grouped = frame.groupby("user_id", sort=False)["value"].agg(list)
    return grouped.reindex(users).map(lambda v: v if isinstance(v, list) else [])


def batch_profile_features(engine: Engine, source: str = "events",
                           gap_minutes: float = GAP_MINUTES) -> pd.DataFrame:
    """The raw profile table (see :mod:`shopintent.profile.features`) of every user in ``source``.

    ``engine`` is the store's DuckDB engine (``EventStore.engine()``) or a
    :class:`~shopintent.store.spark_engine.SparkEngine` with the same table
    registered: the statements are the same text on both.
    """
    counts = engine.sql(counts_sql(engine.dialect, source, gap_minutes))
    if counts.empty:
        raise ValueError(f"table {source!r} holds no events: there is no shopper to profile")
    counts["user_id"] = counts["user_id"].astype(str)
    counts = counts.set_index("user_id")
    top = engine.sql(top_categories_sql(source))
    counts["top_categories"] = _lists(top, counts.index, top["category_id"].astype(str))
    last = engine.sql(last_intents_sql(engine.dialect, source))
    labels = pd.Series([intent_label(t, c) for t, c in zip(last["event_type"], last["category_id"], strict=True)],
                       dtype=object)
    counts["last_intents"] = _lists(last, counts.index, labels)
    return finish(counts)
