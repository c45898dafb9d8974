"""The store pipelines give identical results on DuckDB and Spark, on the real Taobao log.

This is the promise of "write once, run on both": sessionisation, per-session
aggregates and ordered sequences of 84,439 real events must match exactly
(floating-point sums to 1e-9) on the embedded default and on Spark ``local[2]``.
"""

from __future__ import annotations


import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head
from shopintent.settings import Settings
from shopintent.store import DuckDBEngine, EventStore, pipelines

pytestmark = pytest.mark.spark

GAP_MINUTES = 30.0


@pytest.fixture(scope="module")
def taobao_events(session_settings: Settings) -> pd.DataFrame:
    """The real events as the store holds them (with ``seq``), loaded once."""
    events = taobao_userbehavior_head.load(session_settings).events
    with EventStore() as store:
        store.append(events)
        return store.events()


@pytest.fixture(scope="module")
def spark_engine(spark_session):  # type: ignore[no-untyped-def]
    from shopintent.store.spark_engine import SparkEngine

    return SparkEngine(session=spark_session)


@pytest.fixture(scope="module")
def engines(taobao_events: pd.DataFrame, spark_engine):  # type: ignore[no-untyped-def]
    duck = DuckDBEngine()
    duck.register("events", taobao_events)
    spark_engine.register("events", taobao_events)
    yield duck, spark_engine
    duck.close()


def _assert_same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert len(duck) > 0
    pd.testing.assert_frame_equal(duck, spark, check_exact=False, rtol=1e-9, atol=1e-9)


def test_sessionise_is_identical_on_duckdb_and_spark(engines) -> None:  # type: ignore[no-untyped-def]
    duck, spark = engines
    on_duck = pipelines.sessionise(duck, "events", GAP_MINUTES)
    _assert_same(on_duck, pipelines.sessionise(spark, "events", GAP_MINUTES))
    assert len(on_duck) == 84_439
    assert on_duck["session_id"].nunique() == 14_097


def test_session_aggregates_are_identical_on_duckdb_and_spark(engines) -> None:  # type: ignore[no-untyped-def]
    duck, spark = engines
    on_duck = pipelines.session_aggregates(duck, "events", GAP_MINUTES)
    _assert_same(on_duck, pipelines.session_aggregates(spark, "events", GAP_MINUTES))
    assert on_duck["n_events"].sum() == 84_439
    assert on_duck["n_purchase"].sum() == 1_750


def test_session_sequences_are_identical_on_duckdb_and_spark(engines) -> None:  # type: ignore[no-untyped-def]
    duck, spark = engines
    on_duck = pipelines.session_sequences(duck, "events", GAP_MINUTES)
    _assert_same(on_duck, pipelines.session_sequences(spark, "events", GAP_MINUTES))


def test_top_categories_are_identical_on_duckdb_and_spark(engines) -> None:  # type: ignore[no-untyped-def]
    duck, spark = engines
    on_duck = pipelines.top_categories(duck, "events", 10)
    _assert_same(on_duck, pipelines.top_categories(spark, "events", 10))
