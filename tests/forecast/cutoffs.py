"""The validation/test cut of a backtest, as the no-look-ahead tests of the validated rules use it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from shopintent.forecast.backtest import BacktestPlan, run_models


def first_scored_split(cv: pd.DataFrame, calibration: int) -> tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]:
    """The first scored cut-off, the validation rows (cut-offs before it, targets up to it) and a copy of
    ``cv`` whose targets after it are wrecked (x 50 + 1000).

    Why one helper: every validated rule (top-3, weighted, best, blend) must choose from the validation
    rows alone, so each test checks its choice against them and that the wrecked test weeks change nothing.
    """
    first_scored = np.sort(cv["cutoff"].unique())[calibration]
    validation = cv[(cv["cutoff"] < first_scored) & (cv["ds"] <= first_scored)]
    wrecked = cv.assign(y=np.where(cv["ds"] > first_scored, cv["y"] * 50 + 1000, cv["y"]))
    return first_scored, validation, wrecked


def weekly_backtest_cut(series: pd.DataFrame, plan: BacktestPlan,
                        models: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``models`` backtested on weekly ``series`` under ``plan``, with its validation rows and wrecked copy
    (:func:`first_scored_split`)."""
    cv, _ = run_models(series, "W", plan, tuple(models))
    _, validation, wrecked = first_scored_split(cv, plan.calibration)
    return cv, validation, wrecked
