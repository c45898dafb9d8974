"""Sessions, per-session aggregates and event sequences, written once in portable SQL.

Every pipeline here is a function that builds SQL from a :class:`Dialect` and
runs it on an :class:`~shopintent.store.engine.Engine`, so the same text runs
on DuckDB (the embedded default) and on Spark (``SparkEngine``), and the
results are cast onto one declared schema. Only the shared subset of SQL is
used: window functions, ``CASE``, ``COUNT(DISTINCT …)``, ``CAST(… AS STRING)``;
the one spelling that differs (microseconds since the epoch) comes from the
dialect.

Sessionisation follows the usual rule of the Coveo and Taobao literature: a
user's events, in time order, start a new session after more than
``gap_minutes`` of inactivity. A change of the client's own ``session_id``
(when both events carry one) also starts a new session, so shops that already
sessionise keep their boundaries. Ties in time are broken by ingest order
(``seq``), so results are deterministic on every engine.
"""

from __future__ import annotations

import pandas as pd

from shopintent.store.engine import Dialect, Engine, check_identifier
from shopintent.store.tables import EVENT_DTYPES_WITH_SEQ, normalise

DEFAULT_GAP_MINUTES = 30.0
_TS = "datetime64[us, UTC]"

#: Columns added by :func:`sessionise` to each event.
SESSIONISED_DTYPES: dict[str, str] = {
    **EVENT_DTYPES_WITH_SEQ,
    "client_session_id": "string",
    "session_number": "int64",
}

#: One row per session.
SESSION_AGGREGATE_DTYPES: dict[str, str] = {
    "session_id": "string",
    "user_id": "string",
    "start": _TS,
    "end": _TS,
    "duration_s": "float64",
    "n_events": "int64",
    "n_views": "int64",
    "n_searches": "int64",
    "n_add_to_cart": "int64",
    "n_remove_from_cart": "int64",
    "n_favourite": "int64",
    "n_purchase": "int64",
    "n_items": "int64",
    "n_categories": "int64",
    "revenue": "float64",
    "purchased": "bool",
    "cart_abandoned": "bool",
}

#: One row per event, in session order (long format).
SEQUENCE_DTYPES: dict[str, str] = {
    "session_id": "string",
    "user_id": "string",
    "position": "int64",
    "timestamp": _TS,
    "event_type": "string",
    "item_id": "string",
    "category_id": "string",
    "dwell_s": "float64",
}

FUNNEL_STAGES: tuple[str, ...] = ("view", "add_to_cart", "purchase")

TOP_CATEGORY_DTYPES: dict[str, str] = {
    "category_id": "string",
    "events": "int64",
    "views": "int64",
    "add_to_cart": "int64",
    "purchases": "int64",
    "users": "int64",
}


def _gap_us(gap_minutes: float) -> int:
    if not gap_minutes > 0:
        raise ValueError(f"gap_minutes must be positive, not {gap_minutes!r}")
    return int(round(gap_minutes * 60 * 1_000_000))


def sessionise_sql(dialect: Dialect, source: str = "events", gap_minutes: float = DEFAULT_GAP_MINUTES) -> str:
    """SQL giving every event of ``source`` its derived ``session_id``.

    The derived id is ``<user_id>:<n>`` where ``n`` counts the user's sessions
    from 1 in time order, so it is stable for a fixed log and readable. The
    client's id, if any, is kept as ``client_session_id``.
    """
    check_identifier(source)
    gap = _gap_us(gap_minutes)
    ts_us = dialect.epoch_us("timestamp")
    return f"""
WITH ordered AS (
    SELECT *, {ts_us} AS ts_us
    FROM {source}
),
flagged AS (
    SELECT *,
        CASE
            WHEN LAG(ts_us) OVER w IS NULL THEN 1
            WHEN ts_us - (LAG(ts_us) OVER w) > {gap} THEN 1
            WHEN session_id IS NOT NULL AND LAG(session_id) OVER w IS NOT NULL
                 AND session_id <> (LAG(session_id) OVER w) THEN 1
            ELSE 0
        END AS is_new_session
    FROM ordered
    WINDOW w AS (PARTITION BY user_id ORDER BY ts_us, seq)
),
numbered AS (
    SELECT *,
        SUM(is_new_session) OVER (
            PARTITION BY user_id ORDER BY ts_us, seq
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS session_number
    FROM flagged
)
SELECT
    event_id, user_id,
    CONCAT(user_id, ':', CAST(session_number AS STRING)) AS session_id,
    timestamp, event_type, item_id, category_id, query, price, quantity, seq,
    session_id AS client_session_id,
    CAST(session_number AS BIGINT) AS session_number,
    ts_us
FROM numbered
"""


def _sessionised(dialect: Dialect, source: str, gap_minutes: float) -> str:
    return f"sessionised AS ({sessionise_sql(dialect, source, gap_minutes)})"


def session_aggregates_sql(
    dialect: Dialect, source: str = "events", gap_minutes: float = DEFAULT_GAP_MINUTES
) -> str:
    """SQL for one row of counts per session (see :data:`SESSION_AGGREGATE_DTYPES`).

    ``cart_abandoned`` is the session-level reading: something was added to
    the cart and nothing was bought in the same session. The behaviour
    package defines a per-item, horizon-based label on top of the sequences.
    """
    q = dialect.quote

    def count(event_type: str) -> str:
        return f"COUNT(CASE WHEN event_type = '{event_type}' THEN 1 END)"

    return f"""
WITH {_sessionised(dialect, source, gap_minutes)}
SELECT
    session_id,
    MIN(user_id) AS user_id,
    MIN(timestamp) AS start,
    MAX(timestamp) AS {q("end")},
    CAST(MAX(ts_us) - MIN(ts_us) AS DOUBLE) / 1000000.0 AS duration_s,
    COUNT(*) AS n_events,
    {count("view")} AS n_views,
    {count("search")} AS n_searches,
    {count("add_to_cart")} AS n_add_to_cart,
    {count("remove_from_cart")} AS n_remove_from_cart,
    {count("favourite")} AS n_favourite,
    {count("purchase")} AS n_purchase,
    COUNT(DISTINCT item_id) AS n_items,
    COUNT(DISTINCT category_id) AS n_categories,
    CAST(SUM(CASE WHEN event_type = 'purchase'
             THEN COALESCE(price, 0.0) * COALESCE(quantity, 1) ELSE 0.0 END) AS DOUBLE) AS revenue,
    {count("purchase")} > 0 AS purchased,
    ({count("add_to_cart")} > 0 AND {count("purchase")} = 0) AS cart_abandoned
FROM sessionised
GROUP BY session_id
"""


def session_sequences_sql(
    dialect: Dialect, source: str = "events", gap_minutes: float = DEFAULT_GAP_MINUTES
) -> str:
    """SQL for each session's events in order, with position (from 0) and dwell time.

    ``dwell_s`` is the time to the session's next event (missing for the last),
    the usual proxy for attention in click-stream models.
    """
    return f"""
WITH {_sessionised(dialect, source, gap_minutes)}
SELECT
    session_id, user_id,
    CAST((ROW_NUMBER() OVER w) - 1 AS BIGINT) AS position,
    timestamp, event_type, item_id, category_id,
    CAST((LEAD(ts_us) OVER w) - ts_us AS DOUBLE) / 1000000.0 AS dwell_s
FROM sessionised
WINDOW w AS (PARTITION BY session_id ORDER BY ts_us, seq)
"""


def top_categories_sql(dialect: Dialect, source: str = "events", top: int = 10) -> str:
    """SQL for the ``top`` categories by number of events (ties by id)."""
    check_identifier(source)
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, not {top!r}")

    def count(event_type: str) -> str:
        return f"COUNT(CASE WHEN event_type = '{event_type}' THEN 1 END)"

    return f"""
SELECT
    category_id,
    COUNT(*) AS events,
    {count("view")} AS views,
    {count("add_to_cart")} AS add_to_cart,
    {count("purchase")} AS purchases,
    COUNT(DISTINCT user_id) AS users
FROM {source}
WHERE category_id IS NOT NULL
GROUP BY category_id
ORDER BY events DESC, category_id
LIMIT {top}
"""


def sessionise(engine: Engine, source: str = "events", gap_minutes: float = DEFAULT_GAP_MINUTES) -> pd.DataFrame:
    """Every event of ``source`` with its derived session, ordered by session and time."""
    frame = engine.sql(sessionise_sql(engine.dialect, source, gap_minutes))
    frame = frame.sort_values(["user_id", "session_number", "ts_us", "seq"], kind="stable")
    return normalise(frame, SESSIONISED_DTYPES)


def session_aggregates(
    engine: Engine, source: str = "events", gap_minutes: float = DEFAULT_GAP_MINUTES
) -> pd.DataFrame:
    """One row per session (see :data:`SESSION_AGGREGATE_DTYPES`), ordered by session id."""
    frame = engine.sql(session_aggregates_sql(engine.dialect, source, gap_minutes))
    frame = frame.sort_values("session_id", kind="stable")
    return normalise(frame, SESSION_AGGREGATE_DTYPES)


def session_sequences(
    engine: Engine, source: str = "events", gap_minutes: float = DEFAULT_GAP_MINUTES
) -> pd.DataFrame:
    """Each session's events in order, one row per event (see :data:`SEQUENCE_DTYPES`)."""
    frame = engine.sql(session_sequences_sql(engine.dialect, source, gap_minutes))
    frame = frame.sort_values(["session_id", "position"], kind="stable")
    return normalise(frame, SEQUENCE_DTYPES)


def sequences_to_lists(sequences: pd.DataFrame) -> pd.DataFrame:
    """Long sequences → one row per session with lists (item ids, event types, dwell)."""
    ordered = sequences.sort_values(["session_id", "position"], kind="stable")
    grouped = ordered.groupby("session_id", sort=True)
    return pd.DataFrame(
        {
            "user_id": grouped["user_id"].first(),
            "items": grouped["item_id"].agg(list),
            "event_types": grouped["event_type"].agg(list),
            "categories": grouped["category_id"].agg(list),
            "dwell_s": grouped["dwell_s"].agg(list),
        }
    ).reset_index()


def funnel(aggregates: pd.DataFrame) -> pd.DataFrame:
    """Sessions reaching each stage of view → add_to_cart → purchase, with conversion rates.

    A session reaches a stage when it holds at least one event of that type
    and of every earlier stage (a strict funnel); ``sessions_with_event``
    counts sessions holding the stage's event whatever came before (Taobao
    shoppers often buy without using the cart). ``rate_from_previous`` is the share of the previous stage's sessions that
    also reached this one, ``rate_from_start`` the share of all sessions.
    """
    columns = {"view": "n_views", "add_to_cart": "n_add_to_cart", "purchase": "n_purchase"}
    total = len(aggregates)
    rows = []
    reached = aggregates["n_events"] > 0
    previous_count = total
    for stage in FUNNEL_STAGES:
        reached = reached & (aggregates[columns[stage]] > 0)
        count = int(reached.sum())
        rows.append(
            {
                "stage": stage,
                "sessions": count,
                "sessions_with_event": int((aggregates[columns[stage]] > 0).sum()),
                "rate_from_previous": count / previous_count if previous_count else 0.0,
                "rate_from_start": count / total if total else 0.0,
            }
        )
        previous_count = count
    return pd.DataFrame(rows)


def top_categories(engine: Engine, source: str = "events", top: int = 10) -> pd.DataFrame:
    """The most active categories with their view, cart and purchase counts."""
    frame = engine.sql(top_categories_sql(engine.dialect, source, top))
    return normalise(frame, TOP_CATEGORY_DTYPES)
