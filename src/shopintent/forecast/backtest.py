"""Rolling-origin backtests: every model forecasts from many cut-offs, scored on what followed.

Protocol: the last ``calibration + windows`` cut-offs, ``step_size`` periods apart, each
forecast ``horizon`` periods ahead using only data up to the cut-off (statsforecast's and
mlforecast's ``cross_validation``; models are refitted every ``refit`` cut-offs and
updated with the new observations in between). The first ``calibration`` cut-offs only
calibrate the conformal intervals (:mod:`.intervals`: online quantile tracking; each model's
score normalisation is chosen on them) and choose the validated combinations; the last ``windows`` cut-offs are
scored. MASE's scale comes from the history before the first scored cut-off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopintent.forecast import metrics
from shopintent.forecast.intervals import SCALES, calibrated_intervals, local_scales, rolling_conformal
from shopintent.forecast.models import (
    BEST,
    COMBINATIONS,
    ENSEMBLE,
    ENSEMBLE_MEMBERS,
    INTERMITTENT_MODELS,
    ML_MODELS,
    STAT_MODELS,
    VALIDATED,
    VALIDATED_COMBINATIONS,
    VALIDATED_SIZE,
    WEIGHTED,
    check_models,
    lightgbm_forecaster,
    stat_model,
)
from shopintent.forecast.series import FREQUENCIES, SEASON_LENGTH
from shopintent.log import get_logger

log = get_logger(__name__)

LEVELS: tuple[int, ...] = (80, 95)
#: Syntetos-Boylan: mean interval between non-zero demands above this = intermittent.
ADI_INTERMITTENT = 1.32


@dataclass(frozen=True)
class BacktestPlan:
    """Where the cut-offs fall and how often models are refitted."""

    horizon: int
    windows: int
    calibration: int = 26
    step_size: int = 1
    refit: int = 13

    def n_cutoffs(self) -> int:
        """All cut-offs: calibration ones first, then the scored ones."""
        return self.calibration + self.windows

    def min_length(self, history: int) -> int:
        """Periods a series needs: ``history`` before the first cut-off plus every cut-off's step."""
        return history + (self.n_cutoffs() - 1) * self.step_size + self.horizon


@dataclass
class BacktestResult:
    """Scored forecasts of every model: per series, pooled, and the raw rows."""

    rows: pd.DataFrame
    per_series: pd.DataFrame
    summary: pd.DataFrame
    runtime_s: dict[str, float]
    intermittent: dict[str, bool]
    plan: BacktestPlan
    freq: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> str:
        """The model with the lowest mean MASE over series."""
        return str(self.summary["mase"].idxmin())


def adi(y: np.ndarray) -> float:
    """Average demand interval: periods per non-zero demand (inf when none)."""
    nonzero = int((y > 0).sum())
    return len(y) / nonzero if nonzero else float("inf")


def _with_step(cv: pd.DataFrame) -> pd.DataFrame:
    cv = cv.sort_values(["unique_id", "cutoff", "ds"], kind="stable").reset_index(drop=True)
    cv["step"] = cv.groupby(["unique_id", "cutoff"]).cumcount() + 1
    return cv


def validated_combination(cv: pd.DataFrame, models: list[str], calibration: int,
                          size: int = VALIDATED_SIZE) -> tuple[pd.Series, dict[str, list[str]]]:
    """Per series, the mean forecast of the ``size`` models with the lowest MAE on the validation cut-offs.

    Validation = the first ``calibration`` cut-offs, and of their rows only those whose
    target period is at or before the first scored cut-off, so the choice uses nothing a
    scored forecast could not have known (for horizons > 1 the last calibration cut-offs'
    later steps fall after it and are left out). Returns the column and the chosen models.
    """
    validation = _validation_rows(cv, calibration)
    errors = validation[models].sub(validation["y"], axis=0).abs().groupby(validation["unique_id"]).mean()
    chosen = {str(uid): list(row.sort_values(kind="stable").index[:size]) for uid, row in errors.iterrows()}
    combined = pd.Series(np.nan, index=cv.index)
    for uid, members in chosen.items():
        mask = cv["unique_id"] == uid
        combined[mask] = cv.loc[mask, members].mean(axis=1)
    return combined, chosen


def weighted_combination(cv: pd.DataFrame, models: list[str], calibration: int
                         ) -> tuple[pd.Series, dict[str, dict[str, float]]]:
    """Per series, every model's forecast weighted by 1 / its MAE on the validation rows (weights sum to 1).

    The same validation rows as :func:`validated_combination` (nothing a scored forecast
    could not have known). Why weights rather than the top 3: averaging many forecasts
    cancels more of their separate errors, and 1 / MAE still lets the models that forecast
    the series well count most. A model with no validation error would take all the weight;
    MAE is floored at 1e-9 of the series' mean demand so the weights stay finite.
    Returns the column and the weights per series.
    """
    validation = _validation_rows(cv, calibration)
    errors = validation[models].sub(validation["y"], axis=0).abs().groupby(validation["unique_id"]).mean()
    floor = 1e-9 * validation.groupby("unique_id")["y"].mean().abs().clip(lower=1.0)
    inverse = 1.0 / errors.clip(lower=floor, axis=0)
    weights = inverse.div(inverse.sum(axis=1), axis=0)
    combined = pd.Series(np.nan, index=cv.index)
    for uid, row in weights.iterrows():
        mask = cv["unique_id"] == uid
        combined[mask] = cv.loc[mask, models].to_numpy() @ row[models].to_numpy()
    return combined, {str(uid): {m: float(w) for m, w in row.items()} for uid, row in weights.iterrows()}


def best_single(cv: pd.DataFrame, models: list[str], calibration: int) -> tuple[pd.Series, dict[str, list[str]]]:
    """Per series, the one model with the lowest MAE on the validation rows (:func:`validated_combination`, size 1).

    Why a rule of its own: choosing per series is what a forecaster deployed per category
    would do; averaging (the top 3, or all weighted) is only better if the validation
    weeks' winner is often a lucky one, which :func:`nested_validation` measures.
    """
    return validated_combination(cv, models, calibration, size=1)


#: Weights of seasonal naive a :func:`seasonal_blend` chooses among (0 = the level model alone).
BLEND_WEIGHTS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))


def seasonal_blend(cv: pd.DataFrame, level_model: str, calibration: int, seasonal_model: str = "SeasonalNaive",
                   weights: tuple[float, ...] = BLEND_WEIGHTS) -> tuple[pd.Series, dict[str, float]]:
    """Per series, ``w`` × seasonal naive + (1 − ``w``) × ``level_model``, ``w`` with the lowest validation MAE.

    Why: MASE's scale is seasonal naive's, so a blend that leans on last year's week where
    the yearly cycle is strong (R03) and on the level model elsewhere is the direct way to
    beat it; ``w`` comes from the validation rows alone (:func:`_validation_rows`). Ties
    keep the smaller weight. Returns the column and the weight per series.
    """
    validation = _validation_rows(cv, calibration)
    chosen: dict[str, float] = {}
    for uid, group in validation.groupby("unique_id", sort=True):
        errors = {w: float(np.mean(np.abs(group["y"] - (w * group[seasonal_model] + (1 - w) * group[level_model]))))
                  for w in sorted(weights)}
        chosen[str(uid)] = min(errors, key=errors.__getitem__)
    w = cv["unique_id"].map(chosen)
    return (w * cv[seasonal_model] + (1 - w) * cv[level_model]).rename(None), chosen


def nested_validation(cv: pd.DataFrame, models: list[str], calibration: int) -> dict[str, float]:
    """Each validated combination's mean WAPE over series on the second half of the validation cut-offs,
    its members or weights chosen on the first half alone (each from the pool it uses in
    :func:`run_models`: ``ValidatedTop3`` and ``ValidatedBest`` every model but the validated
    combinations, ``ValidatedWeighted`` the single models).

    Why: which rule combines the models (the top 3, or all weighted by 1 / MAE) is itself
    a choice; scoring each rule on validation rows it also chose from would favour the
    rule that fits them hardest. Split in two, the rule is judged on weeks its choice did
    not see, and still before the first scored cut-off. Only the validation rows
    (:func:`_validation_rows`) are used: wrecking the test targets leaves the result unchanged.
    """
    validation = _validation_rows(cv, calibration)
    cutoffs = np.sort(validation["cutoff"].unique())
    half = len(cutoffs) // 2
    if half < 2:
        raise ValueError(f"nested validation needs at least 4 validation cut-offs, not {len(cutoffs)}")
    # The first half's rows whose target is at or before the second half's first cut-off choose; the second scores.
    # Rows of both halves; the rules read their choice from the first half (``half`` cut-offs, targets
    # at or before the second half's first cut-off) exactly as they read it from the validation rows.
    rows = validation.reset_index(drop=True)
    held = (rows["cutoff"] >= cutoffs[half]).to_numpy()
    out = {}
    pools = {VALIDATED: [m for m in models if m not in VALIDATED_COMBINATIONS],
             WEIGHTED: [m for m in models if m not in COMBINATIONS],
             BEST: [m for m in models if m not in VALIDATED_COMBINATIONS]}
    rules = {VALIDATED: validated_combination, WEIGHTED: weighted_combination, BEST: best_single}
    for name, rule in rules.items():
        column, _ = rule(rows, pools[name], half)
        out[name] = held_wape(rows, column, held)
    return out


def held_wape(rows: pd.DataFrame, column: pd.Series, held: np.ndarray) -> float:
    """Mean over series of WAPE of ``column`` (clipped at 0: demand is never negative) on the ``held`` rows:
    how :func:`nested_validation` scores a rule, and how the benchmark screens candidates on validation."""
    frame = rows.loc[held, ["unique_id", "y"]].assign(error=(rows["y"] - column.clip(lower=0.0)).abs()[held])
    sums = frame.groupby("unique_id")[["error", "y"]].sum()
    return float((sums["error"] / sums["y"].abs()).mean())


def _validation_rows(cv: pd.DataFrame, calibration: int) -> pd.DataFrame:
    """The validation cut-offs' rows whose target is at or before the first scored cut-off."""
    cutoffs = np.sort(cv["cutoff"].unique())
    if len(cutoffs) <= calibration:
        raise ValueError(f"validation needs scored cut-offs after the {calibration} validation ones")
    first_scored = cutoffs[calibration]
    return cv[(cv["cutoff"] < first_scored) & (cv["ds"] <= first_scored)]


#: Factors a MAPE-targeted forecast may scale the point forecast by (1.0 = unchanged).
MAPE_FACTORS: tuple[float, ...] = tuple(round(0.80 + 0.02 * i, 2) for i in range(11))


def mape_targeted(cv: pd.DataFrame, model: str, calibration: int,
                  factors: tuple[float, ...] = MAPE_FACTORS) -> tuple[pd.Series, dict[str, float]]:
    """Per series, ``model``'s forecast times the factor with the lowest MAPE on the validation rows.

    MAPE punishes a forecast above the actual less than one below it only up to 100 %,
    so the MAPE-optimal point forecast is a low quantile of the demand, not its mean or
    median; this finds that shift honestly, on validation only (:func:`_validation_rows`),
    for comparing with published MAPE. Zero-demand rows are left out of the MAPE, as in
    :func:`shopintent.forecast.metrics.mape`. Ties keep the larger factor.
    """
    validation = _validation_rows(cv, calibration)
    validation = validation[validation["y"] != 0]
    chosen: dict[str, float] = {}
    for uid, group in validation.groupby("unique_id", sort=True):
        y, f = group["y"].to_numpy(), group[model].to_numpy()
        errors = {c: float(np.mean(np.abs(y - c * f) / y)) for c in sorted(factors, reverse=True)}
        chosen[str(uid)] = min(errors, key=errors.__getitem__)
    return (cv[model] * cv["unique_id"].map(chosen)).rename(None), chosen


def run_models(series: pd.DataFrame, freq: str, plan: BacktestPlan, models: tuple[str, ...], seed: int = 0,
               on_model: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """Point forecasts of every model at every cut-off (one column per model) and each model's run time."""
    from statsforecast import StatsForecast

    check_models(models)
    pandas_freq, season = FREQUENCIES[freq], SEASON_LENGTH[freq]
    kwargs = {"h": plan.horizon, "n_windows": plan.n_cutoffs(), "step_size": plan.step_size, "refit": plan.refit}
    merged: pd.DataFrame | None = None
    runtime: dict[str, float] = {}
    keys = ["unique_id", "ds", "cutoff", "y"]
    for name in models:
        if name in COMBINATIONS:
            continue
        started = time.perf_counter()
        if name in STAT_MODELS:
            model = stat_model(name, freq, season)
            sf = StatsForecast(models=[model], freq=pandas_freq, n_jobs=1)
            # Croston / ADIDA / IMAPA and TBATS cannot be updated without a refit (no `forward`): refit every cut-off.
            refit = plan.refit if hasattr(model, "forward") else True
            cv = sf.cross_validation(df=series, **{**kwargs, "refit": refit})
        elif name in ML_MODELS:
            cv = lightgbm_forecaster(freq, pandas_freq, seed, name).cross_validation(df=series, **kwargs)
        runtime[name] = time.perf_counter() - started
        cv = cv[[*keys, name]]
        merged = cv if merged is None else merged.merge(cv, on=keys, how="inner", validate="one_to_one")
        log.info("backtest model done", model=name, seconds=round(runtime[name], 2))
        if on_model:
            on_model(name)
    assert merged is not None, "check_models guarantees one base model"
    if ENSEMBLE in models:
        members = [m for m in ENSEMBLE_MEMBERS if m in merged.columns]
        merged[ENSEMBLE] = merged[members].median(axis=1)
        runtime[ENSEMBLE] = sum(runtime[m] for m in members)
    merged = _with_step(merged)
    if VALIDATED in models:
        candidates = [m for m in models if m not in VALIDATED_COMBINATIONS]
        merged[VALIDATED], chosen = validated_combination(merged, candidates, plan.calibration)
        merged.attrs["validated_members"] = chosen
        runtime[VALIDATED] = sum(runtime[m] for m in candidates)
    if WEIGHTED in models:
        singles = [m for m in models if m not in COMBINATIONS]
        merged[WEIGHTED], weights = weighted_combination(merged, singles, plan.calibration)
        merged.attrs["validated_weights"] = weights
        runtime[WEIGHTED] = sum(runtime[m] for m in singles)
    if BEST in models:
        candidates = [m for m in models if m not in VALIDATED_COMBINATIONS]
        merged[BEST], picked = best_single(merged, candidates, plan.calibration)
        merged.attrs["validated_best"] = {uid: members[0] for uid, members in picked.items()}
        runtime[BEST] = sum(runtime[m] for m in candidates)
    merged[[m for m in models]] = merged[list(models)].clip(lower=0.0)  # demand is never negative
    return merged, runtime


def score(series: pd.DataFrame, cv: pd.DataFrame, freq: str, plan: BacktestPlan, models: tuple[str, ...],
          runtime: dict[str, float]) -> BacktestResult:
    """Intervals from earlier cut-offs, then MASE / WAPE / MAPE / coverage on the scored cut-offs.

    Coverage is that of the online-tracked bands; ``static_coverage_*`` is the same
    normalisation's static rolling quantile on the same rows, for comparison.
    """
    validated_members = cv.attrs.get("validated_members", {})
    validated_weights = cv.attrs.get("validated_weights", {})
    validated_best = cv.attrs.get("validated_best", {})
    scales = local_scales(series, SEASON_LENGTH[freq])
    cv = cv.merge(scales, on=["unique_id", "cutoff"], how="left", validate="many_to_one")
    chosen_scale: dict[str, str] = {}
    validation_coverage: dict[str, dict[int, float]] = {}
    cutoffs = np.sort(cv["cutoff"].unique())
    scored_cutoffs = cutoffs[plan.calibration:]
    first = scored_cutoffs[0]
    scored = cv["cutoff"].isin(scored_cutoffs).to_numpy()
    static_inside: dict[tuple[str, int], np.ndarray] = {}
    for name in models:
        cv, chosen_scale[name], validation_coverage[name] = calibrated_intervals(
            cv, name, LEVELS, plan.calibration, step_size=plan.step_size)
        # The same normalisation with the static rolling quantile, for comparison: what the online tracking changes.
        fixed = rolling_conformal(cv, name, LEVELS, step_size=plan.step_size, learning_rate=0.0,
                                  scale=None if chosen_scale[name] == "none" else chosen_scale[name])
        for level in LEVELS:
            static_inside[name, level] = ((fixed["y"] >= fixed[f"{name}-lo-{level}"])
                                          & (fixed["y"] <= fixed[f"{name}-hi-{level}"])).to_numpy()[scored]
    cv = cv.drop(columns=list(SCALES[1:]))
    rows = cv[scored].reset_index(drop=True)
    season = SEASON_LENGTH[freq]
    per_series = []
    intermittent = {}
    for uid, group in rows.groupby("unique_id", sort=True):
        history = series.loc[(series["unique_id"] == uid) & (series["ds"] <= first), "y"].to_numpy()
        scale = metrics.seasonal_naive_scale(history, season)
        intermittent[uid] = adi(history) > ADI_INTERMITTENT
        y = group["y"].to_numpy()
        for name in models:
            yhat = group[name].to_numpy()
            mape, zeros = metrics.mape(y, yhat)
            record = {"unique_id": uid, "model": name, "mase": metrics.mase(y, yhat, scale),
                      "wape": metrics.wape(y, yhat), "mape": mape, "mape_zero_periods_skipped": zeros,
                      "n": len(y)}
            for level in LEVELS:
                record[f"coverage_{level}"] = metrics.coverage(y, group[f"{name}-lo-{level}"].to_numpy(),
                                                               group[f"{name}-hi-{level}"].to_numpy())
                record[f"static_coverage_{level}"] = float(static_inside[name, level][group.index].mean())
            per_series.append(record)
    table = pd.DataFrame(per_series)
    summary = table.groupby("model", sort=False).agg(
        mase=("mase", "mean"), wape=("wape", "mean"), mape=("mape", "mean"),
        coverage_80=("coverage_80", "mean"), coverage_95=("coverage_95", "mean"),
        static_coverage_80=("static_coverage_80", "mean"), static_coverage_95=("static_coverage_95", "mean"),
        series=("unique_id", "nunique"))
    summary["runtime_s"] = [runtime.get(m, float("nan")) for m in summary.index]
    for level in LEVELS:
        summary[f"validation_coverage_{level}"] = [validation_coverage[m][level] for m in summary.index]
    summary["intermittent_model"] = [m in INTERMITTENT_MODELS for m in summary.index]
    return BacktestResult(rows=rows, per_series=table, summary=summary, runtime_s=runtime,
                          intermittent=intermittent, plan=plan, freq=freq,
                          extra={"validated_members": validated_members, "validated_weights": validated_weights,
                                 "validated_best": validated_best,
                                 "interval_scale": chosen_scale})


def backtest(series: pd.DataFrame, freq: str, plan: BacktestPlan, models: tuple[str, ...], seed: int = 0,
             on_model: Callable[[str], None] | None = None) -> BacktestResult:
    """Run every model over the plan's cut-offs and score them (module docstring)."""
    cv, runtime = run_models(series, freq, plan, models, seed, on_model)
    return score(series, cv, freq, plan, models, runtime)
