"""Backtest or fit from a file: read, prepare, run, and return JSON-ready results.

The one function each CLI command wraps, so tests call the library without a shell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from shopintent.forecast.backtest import BacktestPlan, BacktestResult, backtest
from shopintent.forecast.models import ML_MODELS, check_models, min_history
from shopintent.forecast.series import SEASON_LENGTH, SeriesReport, prepare, read_table
from shopintent.settings import Settings


def history_needed(freq: str, models: tuple[str, ...]) -> int:
    """Periods before the first cut-off: LightGBM's longest lag plus a season of training rows, else two seasons."""
    season = SEASON_LENGTH[freq]
    return min_history(freq) + season if any(m in ML_MODELS for m in models) else 2 * season


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def result_json(result: BacktestResult, report: SeriesReport) -> dict[str, Any]:
    """Per model (mase, wape, mape, coverage, runtime), the best model, per series, and what input handling did."""
    models = {name: {k: _clean(float(v)) if k != "intermittent_model" else bool(v) for k, v in row.items()}
              for name, row in result.summary.iterrows()}
    per_series = [{k: _clean(v) for k, v in r.items()} for r in result.per_series.to_dict("records")]
    plan = result.plan
    return {
        "freq": result.freq,
        "horizon": plan.horizon,
        "protocol": (f"rolling origin: {plan.windows} scored cut-offs after {plan.calibration} calibration cut-offs, "
                     f"{plan.step_size} period(s) apart, horizon {plan.horizon}, refit every {plan.refit} cut-offs; "
                     "intervals: rolling split-conformal on earlier cut-offs only, each model's score "
                     "normalisation chosen on the calibration cut-offs"),
        "best": result.best,
        "interval_scale": result.extra.get("interval_scale", {}),
        "models": models,
        "per_series": per_series,
        "intermittent_series": sorted(k for k, v in result.intermittent.items() if v),
        "input": report.as_dict(),
    }


def _checked_plan(models: tuple[str, ...], horizon: int, windows: int, calibration: int) -> BacktestPlan:
    """The backtest plan, after checking the model names and the horizon."""
    check_models(models)
    if horizon < 1:
        raise ValueError(f"--horizon {horizon}: must be at least 1")
    return BacktestPlan(horizon=horizon, windows=windows, calibration=calibration)


def backtest_file(data: Path, id_col: str, date_col: str, value_col: str, freq: str, horizon: int,
                  models: tuple[str, ...], windows: int, calibration: int, seed: int = 0,
                  on_model: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Backtest every model on the series of a (series id, date, quantity) file."""
    plan = _checked_plan(models, horizon, windows, calibration)
    series, report = prepare_file(data, id_col, date_col, value_col, freq, horizon, models, windows, calibration)
    return result_json(backtest(series, freq, plan, models, seed, on_model), report)


def prepare_file(data: Path, id_col: str, date_col: str, value_col: str, freq: str, horizon: int,
                 models: tuple[str, ...], windows: int, calibration: int) -> tuple[pd.DataFrame, SeriesReport]:
    """The regular series of a file, sized for a backtest of ``windows`` + ``calibration`` cut-offs."""
    plan = BacktestPlan(horizon=horizon, windows=windows, calibration=calibration)
    return prepare(read_table(data), id_col, date_col, value_col, freq,
                   plan.min_length(history_needed(freq, models)))


def backtest_events(events: Path, level: str, utc_offset_hours: int, freq: str, horizon: int,
                    models: tuple[str, ...], windows: int, calibration: int, settings: Settings, seed: int = 0,
                    on_model: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Backtest every model on the demand per ``level`` read from an event file through the store.

    The JSON is :func:`result_json`'s plus ``events``: what ingest did to the file's rows.
    """
    from shopintent.forecast.events import prepare_events

    plan = _checked_plan(models, horizon, windows, calibration)
    series, report, ingest = prepare_events(events, freq, level, utc_offset_hours, settings,
                                            plan.min_length(history_needed(freq, models)))
    return {**result_json(backtest(series, freq, plan, models, seed, on_model), report), "events": ingest}
