"""Rolling-origin backtests use nothing after their cut-off, and their intervals cover on real sales."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopintent.forecast.backtest import (
    MAPE_FACTORS,
    BacktestPlan,
    mape_targeted,
    nested_validation,
    run_models,
    score,
    validated_combination,
    weighted_combination,
)
from shopintent.forecast.intervals import (
    LEARNING_RATE,
    SCALES,
    _tracked_quantiles,
    conformal_quantile,
    local_scales,
    rolling_conformal,
)
from tests.forecast.cutoffs import weekly_backtest_cut

MODELS = ("SeasonalNaive", "AutoETS", "ADIDA", "LightGBM", "LightGBMRobust", "SeasonalProfile", "LightGBMSeasonal",
          "ValidatedWeighted", "ValidatedBest")


def test_changing_the_future_leaves_earlier_forecasts_and_intervals_identical(weekly: pd.DataFrame) -> None:
    series = weekly[weekly["unique_id"] == "N02BE"].reset_index(drop=True)
    plan = BacktestPlan(horizon=2, windows=4, calibration=6, refit=1)  # refit=1: every cut-off fits afresh
    full, _ = run_models(series, "W", plan, MODELS)
    cutoffs = np.sort(full["cutoff"].unique())
    truncate_at = cutoffs[-4]
    # Wreck every week after the cut-off: a forecast that peeked would change.
    future = series["ds"] > truncate_at
    wrecked = series.assign(y=np.where(future, series["y"] * 50 + 1000, series["y"]))
    changed, _ = run_models(wrecked, "W", plan, MODELS)
    for frame in (full, changed):
        for model in MODELS:
            frame[model] = frame[model].astype(float)
    keep = full["cutoff"] <= truncate_at
    assert keep.sum() > 0 and (~keep).sum() > 0
    for model in MODELS:
        np.testing.assert_allclose(full.loc[keep, model].to_numpy(), changed.loc[keep, model].to_numpy(), rtol=1e-9)
        if model != "SeasonalNaive":  # it repeats last year, which the wrecking leaves alone
            assert not np.allclose(full.loc[~keep, model].to_numpy(), changed.loc[~keep, model].to_numpy())
    for rate in (0.0, LEARNING_RATE):  # the static quantile and the online-tracked one
        a = rolling_conformal(full, "AutoETS", (80,), min_calibration=2, learning_rate=rate)
        b = rolling_conformal(changed, "AutoETS", (80,), min_calibration=2, learning_rate=rate)
        known = keep & a["AutoETS-hi-80"].notna()
        assert known.sum() > 0
        np.testing.assert_allclose(a.loc[known, "AutoETS-hi-80"], b.loc[known, "AutoETS-hi-80"], rtol=1e-9)


def test_tbats_refitted_at_each_cut_off_uses_nothing_after_it(weekly: pd.DataFrame) -> None:
    """AutoTBATS has no update between refits, so it is refitted at every cut-off (slow: a few cut-offs here)."""
    series = weekly[weekly["unique_id"] == "R03"].head(130).reset_index(drop=True)  # 2.5 years: faster fits
    plan = BacktestPlan(horizon=1, windows=2, calibration=2, refit=13)
    full, _ = run_models(series, "W", plan, ("AutoTBATS",))
    cutoffs = np.sort(full["cutoff"].unique())
    truncate_at = cutoffs[1]
    wrecked = series.assign(y=np.where(series["ds"] > truncate_at, series["y"] * 50 + 1000, series["y"]))
    changed, _ = run_models(wrecked, "W", plan, ("AutoTBATS",))
    keep = (full["cutoff"] <= truncate_at).to_numpy()
    np.testing.assert_allclose(full.loc[keep, "AutoTBATS"], changed.loc[keep, "AutoTBATS"], rtol=1e-9)
    assert not np.allclose(full.loc[~keep, "AutoTBATS"], changed.loc[~keep, "AutoTBATS"])


def test_conformal_intervals_cover_about_their_level_on_real_weekly_sales(weekly: pd.DataFrame) -> None:
    plan = BacktestPlan(horizon=1, windows=52, calibration=26, refit=13)
    models = ("SeasonalNaive", "Naive", "ADIDA")
    cv, runtime = run_models(weekly, "W", plan, models)
    result = score(weekly, cv, "W", plan, models, runtime)
    rows = result.per_series
    pooled_80 = rows["coverage_80"].mean()
    pooled_95 = rows["coverage_95"].mean()
    # 3 models x 8 categories x 52 held-out weeks
    assert 0.72 <= pooled_80 <= 0.88, pooled_80
    assert 0.90 <= pooled_95 <= 0.99, pooled_95
    assert result.summary.loc["ADIDA", "mase"] < result.summary.loc["SeasonalNaive", "mase"]
    assert len(result.rows["cutoff"].unique()) == 52
    assert set(result.extra["interval_scale"]) == set(models)
    assert set(result.extra["interval_scale"].values()) <= set(SCALES)
    assert result.summary["validation_coverage_80"].between(0.6, 1.0).all()
    # The normalisation and the MAPE factor are chosen on validation: wrecking the test weeks moves neither.
    first_scored = np.sort(cv["cutoff"].unique())[plan.calibration]
    wreck = {"y": lambda f: np.where(f["ds"] > first_scored, f["y"] * 50 + 1000, f["y"])}
    again = score(weekly.assign(**wreck), cv.assign(**wreck), "W", plan, models, runtime)
    assert again.extra["interval_scale"] == result.extra["interval_scale"]
    pd.testing.assert_series_equal(again.summary["validation_coverage_80"], result.summary["validation_coverage_80"])
    _, factors = mape_targeted(cv, "ADIDA", plan.calibration)
    assert set(factors.values()) <= set(MAPE_FACTORS) and len(factors) == 8
    assert mape_targeted(cv.assign(**wreck), "ADIDA", plan.calibration)[1] == factors


def test_local_scales_use_nothing_after_their_period(weekly: pd.DataFrame) -> None:
    series = weekly[weekly["unique_id"] == "R03"].reset_index(drop=True)
    cut = series["ds"].iloc[200]
    wrecked = series.assign(y=np.where(series["ds"] > cut, series["y"] * 50 + 1000, series["y"]))
    a, b = local_scales(series, 52), local_scales(wrecked, 52)
    known = (a["cutoff"] <= cut).to_numpy()
    pd.testing.assert_frame_equal(a[known], b[known])
    assert not a[~known].equals(b[~known])
    assert (a[list(SCALES[1:])] > 0).all().all()
    # "recent level" at week 200 is the mean of weeks 188-200.
    assert abs(a.loc[200, "recent level"] - series["y"].iloc[188:201].mean()) < 1e-9
    # "seasonal level" is centred one season before the next week: weeks 143-155.
    assert abs(a.loc[200, "seasonal level"] - series["y"].iloc[143:156].mean()) < 1e-9


def test_score_uses_history_before_the_first_scored_cut_off_for_mase(weekly: pd.DataFrame) -> None:
    series = weekly[weekly["unique_id"] == "M01AB"].reset_index(drop=True)
    plan = BacktestPlan(horizon=1, windows=10, calibration=10, refit=5)
    cv, runtime = run_models(series, "W", plan, ("SeasonalNaive",))
    result = score(series, cv, "W", plan, ("SeasonalNaive",), runtime)
    first = np.sort(cv["cutoff"].unique())[10]
    history = series.loc[series["ds"] <= first, "y"].to_numpy()
    scale = np.mean(np.abs(history[52:] - history[:-52]))
    rows = result.rows
    expected = np.mean(np.abs(rows["y"] - rows["SeasonalNaive"])) / scale
    assert abs(result.per_series["mase"].iloc[0] - expected) < 1e-9


def test_validated_combination_chooses_on_targets_before_the_first_scored_cut_off_only(weekly: pd.DataFrame) -> None:
    series = weekly[weekly["unique_id"].isin(["N02BE", "R03"])].reset_index(drop=True)
    plan = BacktestPlan(horizon=2, windows=6, calibration=8, refit=4)
    models = ["SeasonalNaive", "Naive", "ADIDA", "IMAPA"]
    cv, validation, wrecked = weekly_backtest_cut(series, plan, (*models, "ValidatedTop3"))
    _, chosen = validated_combination(cv, models, plan.calibration)
    for uid, members in chosen.items():
        v = validation[validation["unique_id"] == uid]
        mae = {m: float(np.mean(np.abs(v["y"] - v[m]))) for m in models}
        assert members == sorted(mae, key=mae.get)[:3]
        rows = cv[cv["unique_id"] == uid]
        np.testing.assert_allclose(rows["ValidatedTop3"], rows[members].mean(axis=1).clip(lower=0.0))
    # Targets after the first scored cut-off (the test weeks) cannot move the choice.
    assert validated_combination(wrecked, models, plan.calibration)[1] == chosen


def test_tracked_quantile_starts_empirical_and_moves_by_each_known_miss_or_hit(weekly: pd.DataFrame) -> None:
    y = weekly.loc[weekly["unique_id"] == "N02BE", "y"].to_numpy()[-60:]
    errors = np.abs(np.diff(y))  # the naive forecast's real errors, one cut-off apart
    pos = np.arange(len(errors))
    q = _tracked_quantiles(pos, errors, 80, lag=2, window=26, min_calibration=8, learning_rate=0.1)
    static = _tracked_quantiles(pos, errors, 80, lag=2, window=26, min_calibration=8, learning_rate=0.0)
    assert static[20] == conformal_quantile(errors[max(0, 20 - 2 - 25):19], 80)  # rate 0: the static quantile
    assert np.isnan(q[:9]).all() and not np.isnan(q[9:]).any()  # 8 known errors first (lag 2: up to p - 2)
    assert q[9] == np.quantile(errors[:8], 0.8)  # the plain empirical quantile starts it
    for i in range(10, len(errors)):
        eta = 0.1 * errors[max(0, i - 2 - 25):i - 1].max()
        fed = i - 2  # the one forecast whose outcome became known at i (lag 2)
        expected = q[i - 1] if np.isnan(q[fed]) else max(q[i - 1] + eta * (float(errors[fed] > q[fed]) - 0.2), 0.0)
        assert abs(q[i] - expected) < 1e-9, i


def test_tracking_restores_coverage_after_errors_grow_where_static_under_covers(weekly: pd.DataFrame) -> None:
    plan = BacktestPlan(horizon=1, windows=60, calibration=30, refit=13)
    cv, _ = run_models(weekly, "W", plan, ("ADIDA",))
    cut = np.sort(cv["cutoff"].unique())[40]
    # Real errors, tripled from a cut-off on: a shift the past 26 errors do not show.
    later = (cv["cutoff"] >= cut).to_numpy()
    cv["y"] = np.where(later, (cv["ADIDA"] + 3 * (cv["y"] - cv["ADIDA"])).clip(lower=0), cv["y"])
    coverage = {}
    for rate in (0.0, LEARNING_RATE):
        banded = rolling_conformal(cv, "ADIDA", (80,), learning_rate=rate)[later]
        coverage[rate] = float(((banded["y"] >= banded["ADIDA-lo-80"]) & (banded["y"] <= banded["ADIDA-hi-80"])).mean())
    assert coverage[0.0] < 0.75  # the static quantile trails the shift for a whole window
    assert abs(coverage[LEARNING_RATE] - 0.8) < abs(coverage[0.0] - 0.8), coverage


def test_weighted_combination_weights_by_inverse_validation_mae_and_ignores_test_weeks(
        weekly: pd.DataFrame) -> None:
    plan = BacktestPlan(horizon=1, windows=12, calibration=10, refit=6)
    models = ["SeasonalNaive", "Naive", "ADIDA", "LightGBMRobust"]
    cv, validation, wrecked = weekly_backtest_cut(weekly, plan, (*models, "ValidatedWeighted"))
    _, weights = weighted_combination(cv, models, plan.calibration)
    assert set(weights) == set(weekly["unique_id"].unique())
    for uid, w in weights.items():
        v = validation[validation["unique_id"] == uid]
        inverse = {m: 1.0 / float(np.mean(np.abs(v["y"] - v[m]))) for m in models}
        total = sum(inverse.values())
        for m in models:
            assert abs(w[m] - inverse[m] / total) < 1e-9
        rows = cv[cv["unique_id"] == uid]
        expected = sum(w[m] * rows[m] for m in models).clip(lower=0.0)
        np.testing.assert_allclose(rows["ValidatedWeighted"], expected, rtol=1e-9)
    # The better a model did on validation, the more weight: R03's best validation model has the largest.
    r03 = validation[validation["unique_id"] == "R03"]
    best = min(models, key=lambda m: float(np.mean(np.abs(r03["y"] - r03[m]))))
    assert max(weights["R03"], key=weights["R03"].get) == best
    assert weighted_combination(wrecked, models, plan.calibration)[1] == weights


def test_nested_validation_scores_each_rule_on_validation_weeks_it_did_not_choose_from(
        weekly: pd.DataFrame) -> None:
    plan = BacktestPlan(horizon=1, windows=8, calibration=12, refit=6)
    models = ["SeasonalNaive", "Naive", "AutoETS", "ADIDA", "LightGBM"]
    cv, _ = run_models(weekly, "W", plan, tuple(models))
    nested = nested_validation(cv, models, plan.calibration)
    assert set(nested) == {"ValidatedTop3", "ValidatedWeighted", "ValidatedBest"}
    assert all(0.0 < v < 1.0 for v in nested.values()), nested
    cutoffs = np.sort(cv["cutoff"].unique())
    # By hand for the weighted rule: weights from validation cut-offs 1-6, WAPE on cut-offs 7-12.
    first, second = cv[cv["cutoff"] < cutoffs[6]], cv[(cv["cutoff"] >= cutoffs[6]) & (cv["cutoff"] < cutoffs[12])]
    wapes = []
    for uid, part in second.groupby("unique_id"):
        a = first[first["unique_id"] == uid]
        inverse = np.array([1.0 / np.mean(np.abs(a["y"] - a[m])) for m in models])
        forecast = (part[models].to_numpy() @ (inverse / inverse.sum())).clip(min=0.0)
        wapes.append(np.abs(part["y"] - forecast).sum() / part["y"].sum())
    assert abs(nested["ValidatedWeighted"] - float(np.mean(wapes))) < 1e-9
    # Nothing at or after the first scored cut-off's target enters.
    wrecked = cv.assign(y=np.where(cv["ds"] > cutoffs[12], cv["y"] * 50 + 1000, cv["y"]))
    assert nested_validation(wrecked, models, plan.calibration) == nested
