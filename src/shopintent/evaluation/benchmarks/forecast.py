"""Forecast benchmark: pharma weekly/daily, CDNOW daily, Taobao hourly; stock policy; intent signals.

Protocol (every number held out: each forecast uses only data up to its cut-off):

* **Pharma weekly, last 52 weeks (the paper comparison).** 8 ATC categories, whole weeks
  2014-01-12 .. 2019-10-06 (the two partial weeks dropped). 78 cut-offs one week apart:
  the first 26 only calibrate the conformal intervals, the last 52 (the last 52 weeks)
  are scored with 1-week-ahead forecasts; models refitted every 13 weeks and updated with
  each new week in between. MAPE is compared with Fourkiotis & Tsadiras (2024)'s XGBoost
  (their protocol differs; the goal is ≥ 10 % lower relative). MASE uses the in-sample
  seasonal-naive (52-week) scale of the history before the first scored week; "relative
  MAE" is the model's backtest MAE over seasonal naive's on the same weeks. The goal rows
  use one of three validated combinations, per series chosen on the 26 validation cut-offs
  before the 52 scored weeks: ``ValidatedTop3`` (the mean of the 3 models with the lowest
  validation MAE), ``ValidatedWeighted`` (every single model weighted by 1 / its
  validation MAE) or ``ValidatedBest`` (the one model with the lowest validation MAE);
  which of them is decided by nested validation (members, weights or pick
  from validation weeks 1-13, mean WAPE on weeks 14-26;
  :func:`shopintent.forecast.backtest.nested_validation`). Beside it, its MAPE-targeted
  variant (the same forecast times a per-category factor in 0.80-1.00 chosen on the
  validation weeks' MAPE; :func:`shopintent.forecast.backtest.mape_targeted`), reported as such.
* **Intervals, every backtest.** Rolling split-conformal per horizon step whose quantile is
  tracked online (conformal PID's P step, learning rate 0.1 fixed beforehand: each miss or
  hit known by the cut-off moves it); each model's score normalisation (none, recent or
  seasonal level or change) is chosen on the validation cut-offs by the mean interval score
  (:func:`shopintent.forecast.intervals.calibrated_intervals`); the validation coverage and
  the static (untracked) quantile's test coverage are reported beside the test coverage.
* **MAPE reach (diagnostic, not a forecast).** For the paper's four categories, the lowest
  test MAPE any single model or combination times any factor in 0.80-1.00 reaches, chosen
  on the test weeks themselves: if even that misses the goal, no choice on validation among
  these models can meet it.
* **Item level (Taobao, store-derived).** Units bought per hour of the 50 most-bought items,
  6-hour horizon, 26 + 48 hourly cut-offs; intermittent series (Croston, ADIDA, IMAPA).
* **Pharma weekly, horizon 1-4 weeks.** Same series, 26 calibration + 26 scored cut-offs,
  each forecasting 4 weeks.
* **Pharma daily, horizon 7 days.** Every calendar day 2014-01-02 .. 2019-10-08; 52
  cut-offs 7 days apart (26 calibrate, 26 scored = the last half-year), AutoARIMA and
  AutoTBATS left out (too slow on daily series for the budget; both run in the weekly last-52 only).
* **CDNOW daily (store-derived).** Purchases (CDs) per day from the event store, total
  shop demand, 7-day horizon, cut-offs 7 days apart (26 + 13).
* **Taobao hourly (store-derived).** Units bought per hour (China time) in the 10
  categories with the most purchases and in the whole shop, 6-hour horizon, 26 + 48
  hourly cut-offs; most category series are intermittent.
* **Stock.** On the pharma weekly 1-4 backtest (lead time 1 week) and on a daily backtest
  of the daily winner with a cut-off every day over the last 182 days (lead time 2 days): order-up-to policy from the best model's forecast and 80 % conformal
  half-widths vs the naive rule (order up to (L+1) × last period's demand); fill rate and
  average stock on hand (:mod:`shopintent.forecast.stock`).
* **Intent-aware demand (Taobao).** :mod:`shopintent.forecast.intent`: 50 categories with
  the most views, train before 2017-12-01 00:00 China time, test after, next 1, 3, 6
  hours; MAE difference with a 95 % hour-block bootstrap interval (1,000 resamples).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from shopintent.datasets import cdnow
from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.evaluation.bench import BenchResult, Measurement
from shopintent.forecast import pharma
from shopintent.forecast import metrics
from shopintent.forecast.backtest import (
    MAPE_FACTORS,
    BacktestPlan,
    BacktestResult,
    backtest,
    held_wape,
    mape_targeted,
    nested_validation,
    run_models,
    score,
    seasonal_blend,
    validated_combination,
    weighted_combination,
)
from shopintent.forecast.demand import demand_series
from shopintent.forecast.docs_tables import DAILY_SCREEN, ITEM_MODELS
from shopintent.forecast.intervals import LEARNING_RATE, SCALE_WINDOW, SCALES
from shopintent.forecast.intent import compare
from shopintent.forecast.robust import winsorise
from shopintent.forecast.models import (
    ALL_MODELS,
    BEST,
    ENSEMBLE,
    ENSEMBLE_MEMBERS,
    SLOW_MODELS,
    VALIDATED,
    VALIDATED_COMBINATIONS,
    WEIGHTED,
)
from shopintent.forecast.stock import compare_policies
from shopintent.log import get_logger
from shopintent.settings import Settings
from shopintent.store import DuckDBEngine

log = get_logger(__name__)

SEED = 0
NO_ARIMA = tuple(m for m in ALL_MODELS if m not in SLOW_MODELS)  # AutoARIMA and AutoTBATS: weekly last-52 only
TAOBAO_TOP = 10
INTENT_TOP = 50
INTENT_SPLIT = pd.Timestamp("2017-12-01 00:00")
INTENT_AHEAD: tuple[int, ...] = (1, 3, 6)
ITEM_TOP = 50
GOAL_MAPE_FACTOR = 0.9
#: Level models a seasonal-naive blend is screened with.
BLEND_SCREEN: tuple[str, ...] = ("AutoETS", "SeasonalProfile")


def _rel_mae(result: BacktestResult, model: str, uid: str) -> float:
    rows = result.rows[result.rows["unique_id"] == uid]
    mae = float(np.mean(np.abs(rows["y"] - rows[model])))
    naive = float(np.mean(np.abs(rows["y"] - rows["SeasonalNaive"])))
    return mae / naive if naive > 0 else float("nan")


def _summary_rows(tag: str, result: BacktestResult, split: str) -> list[Measurement]:
    out = []
    for model, row in result.summary.iterrows():
        out.append(Measurement(f"{tag} {model} mean MASE", float(row["mase"]), "MASE",
                               f"{split}; mean over {int(row['series'])} series"))
        out.append(Measurement(f"{tag} {model} mean WAPE", float(row["wape"]), "WAPE", f"{split}"))
        out.append(Measurement(f"{tag} {model} 80% coverage", float(row["coverage_80"]), "share",
                               f"{split}; rolling conformal, 26 earlier cut-offs, quantile tracked online "
                               f"(learning rate {LEARNING_RATE}); goal 0.75-0.85"))
        out.append(Measurement(f"{tag} {model} 95% coverage", float(row["coverage_95"]), "share", f"{split}"))
        for level in (80, 95):
            out.append(Measurement(f"{tag} {model} static {level}% coverage", float(row[f"static_coverage_{level}"]),
                                   "share", f"{split}; the same normalisation with the static rolling quantile "
                                   "(no online tracking), for comparison"))
        scale = result.extra["interval_scale"][model]
        validation = (f"{split}; validation cut-offs (targets at or before the first scored cut-off), intervals "
                      f"from their own earlier cut-offs; score normalisation {scale}")
        for level in (80, 95):
            out.append(Measurement(f"{tag} {model} validation {level}% coverage",
                                   float(row[f"validation_coverage_{level}"]), "share", validation))
        out.append(Measurement(f"{tag} {model} interval scale", float(SCALES.index(scale)), "index",
                               f"{scale} (chosen on the validation cut-offs by mean interval score; index into "
                               f"{', '.join(SCALES)})"))
        out.append(Measurement(f"{tag} {model} backtest runtime", float(row["runtime_s"]), "s",
                               f"{split}; all series, all cut-offs; measured on a shared, busy machine"))
    out.append(Measurement(f"{tag} best model", float(list(result.summary.index).index(result.best)), "index",
                           f"{result.best} (lowest mean MASE; index into {', '.join(result.summary.index)})"))
    return out


def _per_series_rows(tag: str, result: BacktestResult, split: str, metrics: tuple[str, ...]) -> list[Measurement]:
    out = []
    for r in result.per_series.itertuples(index=False):
        for metric in metrics:
            unit = {"mase": "MASE", "wape": "WAPE", "mape": "%"}[metric]
            detail = split if metric != "mape" else f"{split}; {r.mape_zero_periods_skipped} zero-demand periods skipped"
            out.append(Measurement(f"{tag} {r.model} {r.unique_id} {metric.upper()}", float(getattr(r, metric)),
                                   unit, detail))
    return out


def _validated_rows(tag: str, result: BacktestResult, split: str) -> list[Measurement]:
    """Which models the validation cut-offs chose per series for the validated combination."""
    return [Measurement(f"{tag} {VALIDATED} {uid} members", float(len(members)), "models",
                        f"{', '.join(members)}; lowest MAE on the {result.plan.calibration} validation cut-offs "
                        f"before the scored ones (targets at or before the first scored cut-off); {split}")
            for uid, members in sorted(result.extra.get("validated_members", {}).items())]


def _weight_rows(tag: str, result: BacktestResult, split: str) -> list[Measurement]:
    """The weights the validation cut-offs gave each model per series in the weighted combination."""
    out = []
    for uid, weights in sorted(result.extra.get("validated_weights", {}).items()):
        ranked = sorted(weights.items(), key=lambda kv: -kv[1])
        text = ", ".join(f"{m} {w:.2f}" for m, w in ranked[:3])
        out.append(Measurement(f"{tag} {WEIGHTED} {uid} largest weight", ranked[0][1], "share",
                               f"{text}; weights 1 / validation MAE over {len(weights)} single models, summed to 1 "
                               f"(the {result.plan.calibration} validation cut-offs); {split}"))
    return out


def _best_rows(tag: str, result: BacktestResult, split: str) -> list[Measurement]:
    """The one model the validation cut-offs picked per series for ``ValidatedBest``."""
    names = [m for m in ALL_MODELS if m not in VALIDATED_COMBINATIONS]
    return [Measurement(f"{tag} {BEST} {uid} pick", float(names.index(model)), "index",
                        f"{model}; lowest MAE on the {result.plan.calibration} validation cut-offs (index into "
                        f"{', '.join(names)}); {split}")
            for uid, model in sorted(result.extra.get("validated_best", {}).items())]


def _weekly_52(settings: Settings) -> tuple[list[Measurement], BacktestResult]:
    series = pharma.weekly(settings)
    plan = BacktestPlan(horizon=1, windows=52, calibration=26, refit=13)
    cv, runtime = run_models(series, "W", plan, ALL_MODELS, SEED)
    result = score(series, cv, "W", plan, ALL_MODELS, runtime)
    split = ("pharma salesweekly.csv, whole weeks 2014-01-12..2019-10-06; last 52 weeks scored (cut-offs "
             "2018-10-07..2019-09-29), 1-week-ahead, refit every 13 weeks, 26 earlier cut-offs calibrate intervals")
    out = _summary_rows("pharma weekly last-52 h1", result, split)
    out += _per_series_rows("pharma weekly last-52 h1", result, split, ("mase", "wape", "mape"))
    out += _validated_rows("pharma weekly last-52 h1", result, split)
    out += _weight_rows("pharma weekly last-52 h1", result, split)
    out += _best_rows("pharma weekly last-52 h1", result, split)
    out += _screening(settings, cv, plan, split)
    # The goal rows use the validated combination whose rule wins the nested validation (members or
    # weights from the first 13 validation weeks, scored on the last 13), fixed before the test weeks.
    nested = nested_validation(cv, list(ALL_MODELS), plan.calibration)
    best = min(nested, key=nested.__getitem__)
    nested_detail = (f"{split}; members, weights or pick chosen on the first 13 of the {plan.calibration} validation "
                     "cut-offs, scored on the last 13 (all before the test weeks)")
    for rule, value in nested.items():
        out.append(Measurement(f"pharma weekly last-52 h1 nested validation {rule} mean WAPE", value, "WAPE",
                               nested_detail))
    out.append(Measurement("pharma weekly last-52 h1 goal model", float(list(nested).index(best)), "index",
                           f"{best} (lower nested-validation WAPE; index into {', '.join(nested)}); the model of "
                           "the goal rows (paper MAPE, MAPE-targeted, relative MAE)"))
    targeted, factors = mape_targeted(cv, best, plan.calibration)
    scored = (cv["cutoff"] >= np.sort(cv["cutoff"].unique())[plan.calibration]).to_numpy()
    for uid in pharma.CATEGORIES:
        row = result.per_series[(result.per_series["model"] == best) & (result.per_series["unique_id"] == uid)].iloc[0]
        out.append(Measurement(f"pharma weekly last-52 h1 best {uid} relative MAE vs seasonal naive",
                               _rel_mae(result, best, uid), "ratio", f"{split}; {best}; goal < 1"))
        if uid in pharma.PAPER_XGBOOST_MAPE:
            paper = pharma.PAPER_XGBOOST_MAPE[uid]
            goal = paper * GOAL_MAPE_FACTOR
            out.append(Measurement(f"pharma weekly last-52 h1 best {uid} MAPE vs paper goal", float(row["mape"]), "%",
                                   f"{split}; {best}; paper XGBoost {paper} (other protocol); goal ≤ {goal:.2f}; "
                                   f"{'met' if row['mape'] <= goal else 'not met'}"))
            validation = cv[~scored & (cv["unique_id"] == uid).to_numpy()]
            out.append(Measurement(
                f"pharma weekly last-52 h1 best {uid} validation MAPE", metrics.mape(
                    validation["y"].to_numpy(), validation[best].to_numpy())[0], "%",
                f"{split}; {best} on the {plan.calibration} validation weeks (its members or weights were chosen on "
                "these weeks, so this is optimistic); beside the test MAPE: how much harder the test year is"))
            mask = scored & (cv["unique_id"] == uid).to_numpy()
            value, _ = metrics.mape(cv.loc[mask, "y"].to_numpy(), targeted[mask].clip(lower=0.0).to_numpy())
            out.append(_mape_reach(cv, scored, uid, goal, split))
            out.append(Measurement(
                f"pharma weekly last-52 h1 MAPE-targeted {uid} MAPE vs paper goal", value, "%",
                f"{split}; {best} × {factors[uid]:.2f} (factor chosen on the {plan.calibration} validation weeks' "
                f"MAPE from 0.80-1.00: a lower-quantile point forecast, for the MAPE comparison only); paper XGBoost "
                f"{paper}; goal ≤ {goal:.2f}; {'met' if value <= goal else 'not met'}"))
    return out, result


def _screening(settings: Settings, cv: pd.DataFrame, plan: BacktestPlan, split: str) -> list[Measurement]:
    """Candidates judged on the validation weeks only and left out of the pool (issue 18, round 3).

    * Daily-level models: the daily file cut at the first scored week, 26 weekly cut-offs
      (the validation weeks') each forecasting 7 days, summed into the week; each model's
      validation mean WAPE beside the same model on the weekly series, and the nested
      validation WAPE of the two averaging rules with them added to the pool.
    * Seasonal-naive blends (:func:`shopintent.forecast.backtest.seasonal_blend`): weight
      per series on validation weeks 1-13, WAPE on 14-26, as ``nested_validation`` judges rules.

    Only rows whose target is at or before the first scored week are read (the daily file is
    cut there before any model sees it).
    """
    cutoffs = np.sort(cv["cutoff"].unique())
    first_scored = cutoffs[plan.calibration]
    validation = cv[(cv["cutoff"] < first_scored) & (cv["ds"] <= first_scored)].reset_index(drop=True)
    daily = pharma.daily(settings)
    daily = daily[daily["ds"] <= first_scored].reset_index(drop=True)
    daily_plan = BacktestPlan(horizon=7, windows=plan.calibration, calibration=0, step_size=7, refit=plan.refit)
    daily_cv, _ = run_models(daily, "D", daily_plan, DAILY_SCREEN, SEED)
    summed = (daily_cv.groupby(["unique_id", "cutoff"], as_index=False)[list(DAILY_SCREEN)].sum()
              .rename(columns={m: f"daily {m}" for m in DAILY_SCREEN}))
    rows = validation.merge(summed, on=["unique_id", "cutoff"], how="left", validate="one_to_one")
    daily_columns = [f"daily {m}" for m in DAILY_SCREEN]
    if rows[daily_columns].isna().any().any():
        raise RuntimeError("daily-level screening: a validation week without its 7 daily forecasts")
    day = f"{pd.Timestamp(first_scored):%Y-%m-%d}"
    detail = (f"{split}; the {plan.calibration} validation weeks only (targets at or before {day}); "
              f"daily models on salesdaily.csv cut at {day}, 7 days summed into the week")
    everything = np.ones(len(rows), dtype=bool)
    out = []
    for m in DAILY_SCREEN:
        for label, column in (("weekly", m), ("daily summed", f"daily {m}")):
            out.append(Measurement(f"pharma weekly screening {m} {label} validation mean WAPE",
                                   held_wape(rows, rows[column], everything), "WAPE", detail))
    val_cutoffs = np.sort(rows["cutoff"].unique())
    half = len(val_cutoffs) // 2
    held = (rows["cutoff"] >= val_cutoffs[half]).to_numpy()
    nested = f"{detail}; chosen on validation weeks 1-{half}, mean WAPE on weeks {half + 1}-{len(val_cutoffs)}"
    singles = [m for m in ALL_MODELS if m not in (ENSEMBLE, *VALIDATED_COMBINATIONS)]
    for name, rule, pool in ((WEIGHTED, weighted_combination, [*singles, *daily_columns]),
                             (VALIDATED, validated_combination, [*singles, ENSEMBLE, *daily_columns])):
        out.append(Measurement(f"pharma weekly screening nested {name} with daily-level models mean WAPE",
                               held_wape(rows, rule(rows, pool, half)[0], held), "WAPE", nested))
    for level in BLEND_SCREEN:
        column, _ = seasonal_blend(rows, level, half)
        out.append(Measurement(f"pharma weekly screening nested SeasonalNaive-{level} blend mean WAPE",
                               held_wape(rows, column, held), "WAPE",
                               f"{nested}; weight of seasonal naive per series from 0, 0.1, ..., 1"))
    return out


def _diagnosis(settings: Settings) -> list[Measurement]:
    """The pharma weeks before the test: file agreement, freak weeks and level shifts (issue 18's diagnosis).

    The weekly file against the daily file summed into weeks ending Sunday (every week of both);
    per category, the weeks :func:`shopintent.forecast.robust.winsorise` clips in the history up to
    the first scored cut-off (2018-10-07), and the validation half-year's mean demand against the
    same weeks a year earlier (a level shift the models must follow). Nothing after the first
    scored cut-off is read except by the file comparison.
    """
    weekly, daily = pharma.weekly(settings), pharma.daily(settings)
    summed = (daily.set_index("ds").groupby("unique_id")["y"].resample("W-SUN").sum()
              .rename("daily_sum").reset_index())
    both = weekly.merge(summed, on=["unique_id", "ds"], how="inner", validate="one_to_one")
    out = [Measurement("pharma diagnosis weekly file vs daily sums max abs difference",
                       float((both["y"] - both["daily_sum"]).abs().max()), "units",
                       f"{len(both)} whole week × category pairs, salesweekly.csv against salesdaily.csv summed into "
                       "weeks ending Sunday (the two partial weeks are dropped from both)")]
    first_scored = pd.Timestamp("2018-10-07")
    for uid in pharma.CATEGORIES:
        y = weekly[(weekly["unique_id"] == uid) & (weekly["ds"] <= first_scored)].set_index("ds")["y"]
        clipped = winsorise(y)
        weeks = ", ".join(f"{d:%Y-%m-%d}" for d in y.index[(clipped != y).to_numpy()])
        out.append(Measurement(f"pharma diagnosis {uid} weeks winsorised before the test", float((clipped != y).sum()),
                               "weeks", f"of {len(y)} weeks up to 2018-10-07 (local median ± 3 robust sd): {weeks}"))
        out.append(Measurement(f"pharma diagnosis {uid} validation mean / same weeks a year earlier",
                               float(y.iloc[-26:].mean() / y.iloc[-78:-52].mean()), "ratio",
                               "the 26 validation weeks (to 2018-10-07) against the same 26 weeks a year earlier "
                               "(same season: a level shift, not the yearly cycle)"))
    return out


def _mape_reach(cv: pd.DataFrame, scored: np.ndarray, uid: str, goal: float, split: str) -> Measurement:
    """The lowest test MAPE of any model column times any MAPE factor, chosen on the test weeks.

    A bound on what any choice among these forecasts could reach, not a forecast.
    """
    rows = cv[scored & (cv["unique_id"] == uid).to_numpy()]
    y = rows["y"].to_numpy()
    columns = [c for c in ALL_MODELS if c in rows.columns]
    best = min((metrics.mape(y, (f * rows[c]).clip(lower=0.0).to_numpy())[0], c, f)
               for c in columns for f in MAPE_FACTORS)
    return Measurement(f"pharma weekly last-52 h1 MAPE reach {uid}", best[0], "%",
                       f"{split}; {best[1]} × {best[2]:.2f}: the lowest test MAPE of any of the {len(columns)} models "
                       f"and combinations times any factor in 0.80-1.00, chosen ON THE TEST WEEKS (the best any choice "
                       f"among them could reach, not a forecast); goal ≤ {goal:.2f}; "
                       f"{'reachable' if best[0] <= goal else 'out of reach'}")


def _stock_rows(tag: str, result: BacktestResult, series: pd.DataFrame, lead_time: int, split: str) -> list[Measurement]:
    first = result.rows["cutoff"].min()
    last_before = {uid: float(g.loc[g["ds"] <= first, "y"].iloc[-1]) for uid, g in series.groupby("unique_id")}
    table = compare_policies(result.rows, last_before, result.best, lead_time, level=80)
    detail = (f"{split}; lead time {lead_time}; order-up-to from {result.best} + 80 % conformal half-widths "
              "(90 % one-sided) vs naive (L+1) × last period; lost sales")
    out = []
    for column in ("forecast_fill_rate", "naive_fill_rate", "forecast_average_stock", "naive_average_stock"):
        unit = "share" if "fill" in column else "units"
        out.append(Measurement(f"{tag} stock {column.replace('_', ' ')} (mean of series)", float(table[column].mean()),
                               unit, detail))
    out.append(Measurement(f"{tag} stock average stock / mean demand, forecast policy",
                           float((table["forecast_average_stock"] / table["mean_demand"]).mean()), "periods", detail))
    out.append(Measurement(f"{tag} stock average stock / mean demand, naive rule",
                           float((table["naive_average_stock"] / table["mean_demand"]).mean()), "periods", detail))
    return out


def _pharma_other(settings: Settings) -> list[Measurement]:
    weekly = pharma.weekly(settings)
    plan4 = BacktestPlan(horizon=4, windows=26, calibration=26, refit=13)
    r4 = backtest(weekly, "W", plan4, NO_ARIMA, SEED)
    split4 = "pharma weekly; last 26 cut-offs scored, each forecasting weeks 1-4; 26 earlier cut-offs calibrate"
    out = _summary_rows("pharma weekly h1-4", r4, split4)
    out += _per_series_rows("pharma weekly h1-4", r4, split4, ("mase",))
    out += _stock_rows("pharma weekly h1-4", r4, weekly, 1, split4)
    daily = pharma.daily(settings)
    plan_d = BacktestPlan(horizon=7, windows=26, calibration=26, step_size=7, refit=13)
    rd = backtest(daily, "D", plan_d, NO_ARIMA, SEED)
    split_d = ("pharma salesdaily.csv; 26 weekly cut-offs scored (last half-year), each forecasting days 1-7; "
               "26 earlier cut-offs calibrate; AutoARIMA and AutoTBATS left out")
    out += _summary_rows("pharma daily h7", rd, split_d)
    out += _per_series_rows("pharma daily h7", rd, split_d, ("mase", "wape"))
    # The stock replay needs a cut-off every period: a second, one-model backtest of the last half-year,
    # of the best single model or Ensemble (the validated combination would need every model again).
    single = str(rd.summary.drop(index=list(VALIDATED_COMBINATIONS), errors="ignore")["mase"].idxmin())
    plan_s = BacktestPlan(horizon=3, windows=182, calibration=26, step_size=1, refit=14)
    members = (single,) if single != ENSEMBLE else (*(m for m in ENSEMBLE_MEMBERS if m != "AutoARIMA"), ENSEMBLE)
    rs = backtest(daily, "D", plan_s, members, SEED)
    split_s = (f"pharma daily; {single} (best single model or Ensemble of the 7-day backtest), a cut-off every day "
               "over the last 182 days, days 1-3; 26 earlier cut-offs calibrate")
    out += _stock_rows("pharma daily", rs, daily, 2, split_s)
    return out


def _store(settings: Settings) -> list[Measurement]:
    engine = DuckDBEngine()
    engine.register("cdnow", cdnow.load(settings).events)
    cd = demand_series(engine, "cdnow", freq="D", level="total")[["unique_id", "ds", "y"]]
    plan_c = BacktestPlan(horizon=7, windows=13, calibration=26, step_size=7, refit=13)
    rc = backtest(cd, "D", plan_c, NO_ARIMA, SEED)
    split_c = (f"CDNOW CDs bought per day from the event store (DuckDB), {cd['ds'].min():%Y-%m-%d}.."
               f"{cd['ds'].max():%Y-%m-%d}; 13 weekly cut-offs scored, days 1-7; 26 earlier calibrate")
    out = _summary_rows("cdnow daily h7", rc, split_c)
    engine.register("taobao", taobao.load(settings).events)
    tb = demand_series(engine, "taobao", freq="H", level="category", utc_offset_hours=8)
    top = tb.groupby("unique_id")["y"].sum().sort_values(ascending=False, kind="stable").head(TAOBAO_TOP).index
    total = demand_series(engine, "taobao", freq="H", level="total", utc_offset_hours=8)
    panel = pd.concat([tb[tb["unique_id"].isin(top)], total])[["unique_id", "ds", "y"]]
    plan_t = BacktestPlan(horizon=6, windows=48, calibration=26, refit=12)
    rt = backtest(panel, "H", plan_t, NO_ARIMA, SEED)
    split_t = (f"Taobao units bought per hour (China time) from the event store, {TAOBAO_TOP} categories with the "
               "most purchases + shop total; last 48 hourly cut-offs scored, hours 1-6; 26 earlier calibrate; "
               f"{sum(rt.intermittent.values())} of {len(rt.intermittent)} series intermittent (ADI > 1.32)")
    out += _summary_rows("taobao hourly h6", rt, split_t)
    intermittent = [u for u, v in rt.intermittent.items() if v]
    sub = rt.per_series[rt.per_series["unique_id"].isin(intermittent)].groupby("model")["wape"].mean()
    for model, value in sub.items():
        out.append(Measurement(f"taobao hourly h6 {model} mean WAPE, intermittent series", float(value), "WAPE",
                               f"{split_t}; mean over the {len(intermittent)} intermittent series"))
    out += _items(engine)
    # The intent test: shopper signals as leading indicators.
    views = tb.groupby("unique_id")["views"].sum().sort_values(ascending=False, kind="stable").head(INTENT_TOP).index
    signals = tb[tb["unique_id"].isin(views)]
    for ahead in INTENT_AHEAD:
        c = compare(signals, INTENT_SPLIT, ahead=ahead, seed=SEED)
        detail = (f"Taobao {INTENT_TOP} most-viewed categories, hourly; train before {INTENT_SPLIT:%Y-%m-%d %H:%M} "
                  f"China time, test after ({c.n_test_hours} hours, {c.n_test_rows} rows); LightGBM Poisson seed {SEED}")
        out.append(Measurement(f"intent next {ahead}h MAE, sales history only", c.mae_sales_only, "units", detail))
        out.append(Measurement(f"intent next {ahead}h MAE, with carts/favourites/views", c.mae_with_signals, "units",
                               detail))
        out.append(Measurement(f"intent next {ahead}h MAE reduction from signals", c.difference, "units",
                               f"{detail}; 95 % hour-block bootstrap CI [{c.low:.4f}, {c.high:.4f}] (1,000 resamples)"))
    engine.close()
    return out


def _items(engine: DuckDBEngine) -> list[Measurement]:
    """Item-level hourly demand (the ``ITEM_TOP`` most-bought Taobao items): intermittent series."""
    events = engine.sql("SELECT CAST(item_id AS STRING) AS item_id, COUNT(*) AS n FROM taobao "
                        "WHERE event_type = 'purchase' GROUP BY 1 ORDER BY n DESC, item_id LIMIT " + str(ITEM_TOP))
    items = demand_series(engine, "taobao", freq="H", level="item", utc_offset_hours=8, ids=events["item_id"],
                          start=pd.Timestamp("2017-11-25"), end=pd.Timestamp("2017-12-04"))[["unique_id", "ds", "y"]]
    plan = BacktestPlan(horizon=6, windows=48, calibration=26, refit=12)
    result = backtest(items, "H", plan, ITEM_MODELS, SEED)
    split = (f"Taobao units bought per hour (China time) of the {ITEM_TOP} most-bought items, from the event store, "
             "2017-11-25..2017-12-03 (216 hours); last 48 hourly cut-offs scored, hours 1-6; 26 earlier calibrate; "
             f"{sum(result.intermittent.values())} of {len(result.intermittent)} series intermittent (ADI > 1.32); "
             f"{int(items['y'].sum())} units in all")
    out = _summary_rows("taobao items hourly h6", result, split)
    zero = result.per_series.groupby("model")["mase"].apply(lambda m: int(m.isna().sum()))
    out += [Measurement(f"taobao items hourly h6 {model} series without a MASE scale", float(n), "series",
                        f"{split}; no seasonal change in the history before the first scored cut-off")
            for model, n in zero.items() if n]
    return out


def run(settings: Settings) -> BenchResult:
    """Measure the parts of the protocol (module docstring)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    load_before = os.getloadavg()
    measurements = _diagnosis(settings)
    measurements += _weekly_52(settings)[0]
    log.info("forecast benchmark: weekly last-52 done")
    measurements += _pharma_other(settings)
    log.info("forecast benchmark: pharma h1-4 and daily done")
    measurements += _store(settings)
    log.info("forecast benchmark: store series and intent done")
    measurements.append(Measurement("benchmark run time", time.perf_counter() - started, "s",
                                    "all parts; measured on a shared, busy machine"))
    measurements.append(Measurement("benchmark CPU time", time.process_time() - cpu_started, "s",
                                    "all parts, this process (every model runs single-threaded, n_jobs=1); "
                                    "the wall time less the waiting on a shared machine"))
    data = {f"{spec.name}/{f.path}": f.sha256 for spec in (pharma.SPEC, cdnow.SPEC, taobao.SPEC)
            for f in spec.files if f.path != cdnow.SUMMARY}
    return BenchResult(
        area="forecast", measurements=measurements, data=data,
        parameters={"seed": SEED, "levels": [80, 95], "conformal_window": 26, "interval_scales": list(SCALES),
                    "interval_scale_window": SCALE_WINDOW, "interval_learning_rate": LEARNING_RATE,
                    "mape_factors": list(MAPE_FACTORS), "taobao_top": TAOBAO_TOP,
                    "intent_top": INTENT_TOP, "intent_split": str(INTENT_SPLIT), "n_jobs": 1,
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        notes=("MAPE is reported only to compare with Fourkiotis & Tsadiras (2024), whose protocol differs; MASE and "
               "WAPE are the primary metrics. Runtimes were measured on a shared, busy machine (load averages in the "
               "parameters). Selection: SeasonalProfile (smoothed yearly profile x level; 9-week smoothing and an "
               "SES level chosen among smoothing 0/2/4 and 4- or 13-week mean levels), LightGBMSeasonal (last-season "
               "mean and smoothed same-week-last-year features; chosen over Fourier features, with or without log) "
               "ValidatedBest and AutoTBATS (the 52-week season as trigonometric terms; AutoETS asked for a 52-week "
               "season fitted what the non-seasonal one does) joined in round 3 after a prototype on the weekly "
               "series cut at the first scored week (2018-10-07): the test weeks were not loaded, only the 26 "
               "validation weeks scored; blends of seasonal naive with AutoETS or SeasonalProfile (weight per series "
               "on validation) lost to ValidatedWeighted on the nested validation there and were not added. The "
               "previous runs' test numbers (docs/forecast.md) were known when these candidates were proposed. "
               "Earlier: LightGBMRobust and ValidatedWeighted joined the pool after a prototype screening on the 26 "
               "validation weeks only (robust training, cross-series and daily-level LightGBM, daily MSTL, "
               "short-window level models, combination rules chosen on validation weeks 1-13 and scored on 14-26); "
               "no test week was scored for it. Disclosure: while checking winsorise on the whole R03 series its "
               "clipped weeks were printed, three of them in the test year (2019-01-20, 2019-02-03, 2019-05-12); "
               "nothing was chosen from that. The goal rows' combination (ValidatedWeighted) is chosen in each run "
               "by nested validation and kept whatever the test says: choosing another after seeing the test would "
               "be choosing on test."),
    )
