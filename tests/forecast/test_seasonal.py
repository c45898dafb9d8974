"""SeasonalProfile, ValidatedBest and the seasonal-naive blend on the real pharma weeks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsforecast import StatsForecast

from shopintent.forecast.backtest import BLEND_WEIGHTS, BacktestPlan, best_single, seasonal_blend
from shopintent.forecast.seasonal import SeasonalProfile, profile_forecast, seasonal_index, smoothed_level
from tests.forecast.cutoffs import weekly_backtest_cut

FIRST_SCORED = pd.Timestamp("2018-10-07")


def _history(weekly: pd.DataFrame, uid: str) -> pd.DataFrame:
    return weekly[(weekly["unique_id"] == uid) & (weekly["ds"] <= FIRST_SCORED)].reset_index(drop=True)


def test_seasonal_index_finds_the_winter_peak_of_respiratory_drugs(weekly: pd.DataFrame) -> None:
    r03 = _history(weekly, "R03")
    y = r03["y"].to_numpy()
    index = seasonal_index(y, 52)
    assert index.shape == (52,) and abs(index.mean() - 1.0) < 1e-12
    phase = (np.arange(len(y)) - len(y)) % 52
    month = r03["ds"].dt.month.to_numpy()
    february = index[np.unique(phase[month == 2])].mean()
    august = index[np.unique(phase[month == 8])].mean()
    assert february > 1.15 and august < 0.7, (february, august)  # R03 sells most in winter, least in August


def test_profile_forecast_is_the_deseasonalised_level_times_the_index(weekly: pd.DataFrame) -> None:
    y = _history(weekly, "N02BE")["y"].to_numpy()
    index = seasonal_index(y, 52)
    deseasonalised = y / index[(np.arange(len(y)) - len(y)) % 52]
    level = smoothed_level(deseasonalised[-156:])
    np.testing.assert_allclose(profile_forecast(y, 4, 52), level * index[:4], rtol=1e-12)
    # The level follows the data: between the lowest and highest deseasonalised week of the last three years.
    assert deseasonalised[-156:].min() < level < deseasonalised[-156:].max()
    # Too short for two seasons: the mean of the last quarter-season.
    np.testing.assert_allclose(profile_forecast(y[:60], 2, 52), np.repeat(y[47:60].mean(), 2))


def test_statsforecast_backtest_path_equals_the_forecast_from_each_cut_offs_history(weekly: pd.DataFrame) -> None:
    series = _history(weekly, "M01AE")
    cv = StatsForecast(models=[SeasonalProfile(season_length=52)], freq="W-SUN", n_jobs=1).cross_validation(
        df=series, h=1, n_windows=6, step_size=1, refit=3)  # refits at 0 and 3, forward in between
    for row in cv.itertuples(index=False):
        y = series.loc[series["ds"] <= row.cutoff, "y"].to_numpy()
        assert abs(row.SeasonalProfile - profile_forecast(y, 1, 52)[0]) < 1e-9


def test_validated_best_picks_the_lowest_validation_mae_per_series_and_ignores_test_weeks(
        weekly: pd.DataFrame) -> None:
    plan = BacktestPlan(horizon=1, windows=8, calibration=10, refit=5)
    models = ["SeasonalNaive", "Naive", "ADIDA", "SeasonalProfile"]
    cv, validation, wrecked = weekly_backtest_cut(weekly, plan, (*models, "ValidatedBest"))
    picked = cv.attrs["validated_best"]
    assert set(picked) == set(weekly["unique_id"].unique())
    for uid, model in picked.items():
        v = validation[validation["unique_id"] == uid]
        assert model == min(models, key=lambda m: float(np.mean(np.abs(v["y"] - v[m]))))
        rows = cv[cv["unique_id"] == uid]
        np.testing.assert_allclose(rows["ValidatedBest"], rows[model].clip(lower=0.0))
    assert {u: m[0] for u, m in best_single(wrecked, models, plan.calibration)[1].items()} == picked


def test_seasonal_blend_weight_is_the_lowest_validation_mae_and_ignores_test_weeks(weekly: pd.DataFrame) -> None:
    plan = BacktestPlan(horizon=1, windows=8, calibration=10, refit=5)
    cv, validation, wrecked = weekly_backtest_cut(weekly, plan, ("SeasonalNaive", "AutoETS"))
    column, weights = seasonal_blend(cv, "AutoETS", plan.calibration)
    for uid, w in weights.items():
        v = validation[validation["unique_id"] == uid]
        mae = {c: float(np.mean(np.abs(v["y"] - (c * v["SeasonalNaive"] + (1 - c) * v["AutoETS"]))))
               for c in BLEND_WEIGHTS}
        assert mae[w] == min(mae.values())
        rows = cv["unique_id"] == uid
        np.testing.assert_allclose(column[rows], w * cv.loc[rows, "SeasonalNaive"] + (1 - w) * cv.loc[rows, "AutoETS"])
    assert len(set(weights.values())) > 1  # the categories' cycles differ: not one weight for all
    assert seasonal_blend(wrecked, "AutoETS", plan.calibration)[1] == weights
