"""The batch profile SQL gives the same profiles on Spark as on DuckDB, on the real Taobao log."""

from __future__ import annotations


import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head
from shopintent.profile import batch_profile_features
from shopintent.settings import Settings
from shopintent.store import DuckDBEngine, EventStore

pytestmark = pytest.mark.spark


def test_profiles_are_identical_on_duckdb_and_spark(session_settings: Settings, spark_session) -> None:  # type: ignore[no-untyped-def]
    from shopintent.store.spark_engine import SparkEngine

    events = taobao_userbehavior_head.load(session_settings).events
    with EventStore() as store:
        store.append(events)
        stored = store.events()
    duck = DuckDBEngine()
    duck.register("events", stored)
    spark = SparkEngine(session=spark_session)
    spark.register("events", stored)
    on_spark = batch_profile_features(spark)
    on_duck = batch_profile_features(duck)
    duck.close()
    assert len(on_duck) == 815
    pd.testing.assert_frame_equal(on_duck, on_spark, check_exact=False, rtol=1e-9, atol=1e-9)
