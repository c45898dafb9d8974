"""The batch profile SQL gives the same profiles on Spark as on DuckDB, on the real Taobao log."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head
from shopintent.profile import batch_profile_features
from shopintent.settings import Settings
from shopintent.store import DuckDBEngine, EventStore

pytestmark = pytest.mark.spark


def test_profiles_are_identical_on_duckdb_and_spark(session_settings: Settings) -> None:
    if shutil.which("java") is None:
        pytest.fail("the Spark test needs Java 17+ on PATH (apt-get install openjdk-17-jre-headless)")
    from shopintent.store.spark_engine import SparkEngine

    events = taobao_userbehavior_head.load(session_settings).events
    with EventStore() as store:
        store.append(events)
        stored = store.events()
    duck = DuckDBEngine()
    duck.register("events", stored)
    spark = SparkEngine(master="local[2]")
    try:
        spark.register("events", stored)
        on_spark = batch_profile_features(spark)
    finally:
        spark.stop()
    on_duck = batch_profile_features(duck)
    duck.close()
    assert len(on_duck) == 815
    pd.testing.assert_frame_equal(on_duck, on_spark, check_exact=False, rtol=1e-9, atol=1e-9)
