"""Store-derived demand series are the same numbers on DuckDB and on Spark (real Taobao log).

Only the columns the demand SQL reads go to the engines, and the Spark session runs one
shuffle partition without its web UI. Both engines still read the events as the store holds
them. Most of this test's time is the Spark JVM starting and warming up (its first job);
once warm, moving the table and running both queries takes seconds either way.
"""

from __future__ import annotations


import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head
from shopintent.forecast.demand import demand_series
from shopintent.settings import Settings
from shopintent.store import DuckDBEngine, EventStore

pytestmark = pytest.mark.spark
#: The event columns the demand SQL reads.
COLUMNS = ["timestamp", "event_type", "category_id", "item_id", "quantity"]


def test_hourly_category_demand_and_signals_match_on_duckdb_and_spark(session_settings: Settings,
                                                                     spark_session) -> None:  # type: ignore[no-untyped-def]
    from shopintent.store.spark_engine import SparkEngine

    with EventStore() as store:
        store.append(taobao_userbehavior_head.load(session_settings).events)
        events = store.events()[COLUMNS]
    duck = DuckDBEngine()
    duck.register("events", events)
    spark = SparkEngine(session=spark_session)
    try:
        spark.register("events", events)
        for freq, level in (("H", "category"), ("D", "total")):
            a = demand_series(duck, freq=freq, level=level, utc_offset_hours=8)
            b = demand_series(spark, freq=freq, level=level, utc_offset_hours=8)
            assert len(a) > 0
            pd.testing.assert_frame_equal(a, b, check_exact=True)
    finally:
        duck.close()
    # The last pair is daily shop totals: 1,750 purchases in the 9-day window, each counted once
    # (Taobao has no quantity: 1 unit each), days in China time.
    assert a["y"].sum() == 1750
    assert a["ds"].min() == pd.Timestamp("2017-11-25") and len(a) == 9
