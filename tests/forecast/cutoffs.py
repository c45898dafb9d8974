"""The validation/test cut of a backtest, as the no-look-ahead tests of the validated rules use it."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
