"""Item-level demand from the store is intermittent and is backtested as such (real Taobao purchases)."""

from __future__ import annotations

import pandas as pd

from shopintent.datasets import taobao_userbehavior_head
from shopintent.forecast.backtest import BacktestPlan, backtest
from shopintent.forecast.demand import demand_series
from shopintent.settings import Settings
from shopintent.store import DuckDBEngine


def test_item_hourly_series_are_flagged_intermittent_and_croston_family_scores_them(session_settings: Settings) -> None:
    events = taobao_userbehavior_head.load(session_settings).events
    bought = events[events["event_type"] == "purchase"]["item_id"].value_counts()
    busiest = bought.index[:5]
    engine = DuckDBEngine()
    engine.register("events", events)
    items = demand_series(engine, freq="H", level="item", utc_offset_hours=8, ids=busiest,
                          start=pd.Timestamp("2017-11-25"), end=pd.Timestamp("2017-12-04"))
    engine.close()
    assert set(items["unique_id"]) == set(busiest)
    assert items.groupby("unique_id")["y"].sum().to_dict() == {str(k): float(v) for k, v in bought[:5].items()}
    series = items[["unique_id", "ds", "y"]]
    assert len(series) == 5 * 216 and series["ds"].min() == pd.Timestamp("2017-11-25")
    plan = BacktestPlan(horizon=6, windows=24, calibration=26, refit=12)
    result = backtest(series, "H", plan, ("Naive", "CrostonOptimized", "ADIDA", "IMAPA"))
    assert all(result.intermittent.values())  # even the best-selling items sell in few hours
    assert set(result.summary.index) == {"Naive", "CrostonOptimized", "ADIDA", "IMAPA"}
    # A level forecast beats repeating the last hour on series that are mostly zero.
    assert result.summary.loc["ADIDA", "wape"] < result.summary.loc["Naive", "wape"]
