"""Intent features at hour t use nothing after t; the comparison runs on real Taobao hours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopintent.datasets import taobao_userbehavior_head
from shopintent.forecast.demand import demand_series
from shopintent.forecast.intent import compare, features, signal_features
from shopintent.settings import Settings
from shopintent.store import DuckDBEngine


@pytest.fixture(scope="module")
def panel(session_settings: Settings) -> pd.DataFrame:
    engine = DuckDBEngine()
    engine.register("events", taobao_userbehavior_head.load(session_settings).events)
    hourly = demand_series(engine, freq="H", level="category", utc_offset_hours=8)
    engine.close()
    busiest = hourly.groupby("unique_id")["views"].sum().sort_values(ascending=False, kind="stable").head(20).index
    return hourly[hourly["unique_id"].isin(busiest)].reset_index(drop=True)


def test_features_at_an_hour_ignore_every_later_hour(panel: pd.DataFrame) -> None:
    cut = pd.Timestamp("2017-11-30 12:00")
    later = panel["ds"] > cut
    changed = panel.assign(**{c: np.where(later, panel[c] + 7, panel[c]) for c in ("y", "carts", "favourites", "views")})
    a, b = features(panel, ahead=3), features(changed, ahead=3)
    columns = list(signal_features())
    upto = a["ds"] <= cut
    pd.testing.assert_frame_equal(a.loc[upto, columns], b.loc[upto, columns])
    assert not a.loc[upto & (a["ds"] == cut), "target"].equals(b.loc[upto & (b["ds"] == cut), "target"])


def test_signal_comparison_reports_both_errors_and_an_interval(panel: pd.DataFrame) -> None:
    result = compare(panel, pd.Timestamp("2017-12-01"), ahead=3, n_boot=200)
    assert result.n_categories == 20 and result.n_test_hours == 69
    assert result.low <= result.difference <= result.high
    assert result.difference == pytest.approx(result.mae_sales_only - result.mae_with_signals)
