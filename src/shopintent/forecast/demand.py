"""Demand series from the event store: units bought (and shopper signals) per category or item and period.

Written once in the SQL that DuckDB and Spark share (through :class:`~shopintent.store.Engine`),
so the series a forecast reads from the live DuckDB store and from a Spark cluster are the
same numbers; a test checks it on the real Taobao log. Periods are counted in integer
microseconds since the epoch, shifted by the shop's UTC offset (Taobao's window is China
time, UTC+8), so a day bucket is the shop's calendar day on both engines without relying
on session time zones.

Demand is the sum of purchase ``quantity`` (1 where the event has none); the same query
counts cart adds, favourites, searches and views per period, the leading indicators
:mod:`.intent` tests. Periods in which nothing happened are filled with zeros in pandas:
a store holds events, not empty hours.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from shopintent.store.engine import Engine, check_identifier

#: Microseconds per period of each frequency.
PERIOD_US: dict[str, int] = {"H": 3_600_000_000, "D": 86_400_000_000}
LEVELS: tuple[str, ...] = ("category", "item", "total")
SIGNALS: tuple[str, ...] = ("purchases", "carts", "favourites", "searches", "views")


def demand_sql(engine: Engine, source: str = "events", freq: str = "D", level: str = "category",
               utc_offset_hours: int = 0) -> str:
    """SQL for one row per (series, period) with any event: purchases (units) and signal counts."""
    check_identifier(source)
    if freq not in PERIOD_US:
        raise ValueError(f"freq {freq!r}: store demand is hourly (H) or daily (D)")
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: choose from {', '.join(LEVELS)}")
    key = {"category": "category_id", "item": "item_id", "total": "'all'"}[level]
    where = "" if level == "total" else f"WHERE {key} IS NOT NULL"
    shift = int(utc_offset_hours) * 3_600_000_000
    bucket = f"CAST(FLOOR(CAST({engine.dialect.epoch_us('timestamp')} + {shift} AS DOUBLE) / {PERIOD_US[freq]}) AS BIGINT)"

    def count(event_type: str) -> str:
        return f"CAST(COUNT(CASE WHEN event_type = '{event_type}' THEN 1 END) AS DOUBLE)"

    return f"""
SELECT
    CAST({key} AS STRING) AS unique_id,
    {bucket} AS bucket,
    CAST(SUM(CASE WHEN event_type = 'purchase' THEN COALESCE(quantity, 1) ELSE 0 END) AS DOUBLE) AS purchases,
    {count("add_to_cart")} AS carts,
    {count("favourite")} AS favourites,
    {count("search")} AS searches,
    {count("view")} AS views
FROM {source}
{where}
GROUP BY 1, 2
"""


def demand_series(engine: Engine, source: str = "events", freq: str = "D", level: str = "category",
                  utc_offset_hours: int = 0, start: pd.Timestamp | None = None,
                  end: pd.Timestamp | None = None, ids: Collection[str] | None = None) -> pd.DataFrame:
    """``unique_id, ds, y`` (units bought) plus signal columns, every period of the span, zeros filled.

    ``ds`` is the period start in the shop's local time (naive). ``start``/``end`` (local,
    end exclusive) fix the grid; by default it spans the first to the last event.
    """
    frame = engine.sql(demand_sql(engine, source, freq, level, utc_offset_hours))
    period = PERIOD_US[freq]
    frame["ds"] = pd.to_datetime(frame["bucket"].astype("int64") * period, unit="us")
    frame = frame.drop(columns="bucket")
    pandas_freq = {"H": "h", "D": "D"}[freq]
    first = start if start is not None else frame["ds"].min()
    last = (end - pd.Timedelta(period, unit="us")) if end is not None else frame["ds"].max()
    frame = frame[(frame["ds"] >= first) & (frame["ds"] <= last)]
    if ids is not None:
        frame = frame[frame["unique_id"].astype(str).isin({str(i) for i in ids})]
    grid = pd.date_range(first, last, freq=pandas_freq)
    ids = sorted(frame["unique_id"].astype(str).unique())
    full = pd.MultiIndex.from_product([ids, grid], names=["unique_id", "ds"])
    out = (frame.astype({"unique_id": str}).set_index(["unique_id", "ds"])[list(SIGNALS)]
           .reindex(full, fill_value=0.0).reset_index())
    return out.rename(columns={"purchases": "y"}).astype({s: "float64" for s in ("y", *SIGNALS[1:])})
