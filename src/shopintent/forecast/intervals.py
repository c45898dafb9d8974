"""Rolling split-conformal prediction intervals from earlier backtest cut-offs only.

Why not the models' own intervals: Croston, ADIDA, IMAPA and LightGBM have none, and
ETS/ARIMA intervals assume Gaussian errors that weekly drug sales do not have. Why not
statsforecast's ``ConformalIntervals``: it refits every model once per calibration window,
several times the backtest's cost. Here the backtest already produces out-of-sample
errors at every cut-off; the interval at cut-off *t* for horizon step *h* is the point
forecast ± the conformal quantile of |error| at step *h* over the ``window`` cut-offs
before *t* (same series, same model). It uses nothing at or after *t*, so an interval is
as available at forecast time as the forecast itself.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Cut-offs of past errors each interval is calibrated on.
DEFAULT_WINDOW = 26


def conformal_quantile(abs_errors: np.ndarray, level: float) -> float:
    """The finite-sample conformal quantile of absolute errors for coverage ``level`` (0-100)."""
    n = len(abs_errors)
    if n == 0:
        return float("nan")
    rank = min(n, math.ceil((n + 1) * level / 100))
    return float(np.sort(abs_errors)[rank - 1])


def rolling_conformal(cv: pd.DataFrame, model: str, levels: tuple[int, ...], step_size: int = 1,
                      window: int = DEFAULT_WINDOW, min_calibration: int = 8) -> pd.DataFrame:
    """Add ``{model}-lo-{level}`` / ``{model}-hi-{level}`` columns to a backtest frame.

    ``cv`` has ``unique_id, cutoff, step, y`` and the model's point column. Rows whose
    series has fewer than ``min_calibration`` earlier cut-offs get NaN bounds (they are
    the calibration period and are not scored). ``step_size`` is the periods between
    consecutive cut-offs.
    """
    out = cv.copy()
    for level in levels:
        out[f"{model}-lo-{level}"] = np.nan
        out[f"{model}-hi-{level}"] = np.nan
    cutoffs_sorted = np.sort(out["cutoff"].unique())
    position = {c: i for i, c in enumerate(cutoffs_sorted)}
    out["_pos"] = out["cutoff"].map(position)
    out["_abs"] = (out["y"] - out[model]).abs()
    for (_, step), group in out.groupby(["unique_id", "step"], sort=False):
        pos = group["_pos"].to_numpy()
        errors = group["_abs"].to_numpy()
        point = group[model].to_numpy()
        # An error at cut-off c with step h is known only at c + h periods, so only
        # cut-offs at least ceil(h / step_size) positions before p are usable.
        lag = math.ceil(int(step) / step_size)
        for level in levels:
            lo = np.full(len(group), np.nan)
            hi = np.full(len(group), np.nan)
            for i, p in enumerate(pos):
                past = errors[(pos <= p - lag) & (pos > p - lag - window)]
                if len(past) >= min_calibration:
                    q = conformal_quantile(past, level)
                    lo[i], hi[i] = max(point[i] - q, 0.0), point[i] + q
            out.loc[group.index, f"{model}-lo-{level}"] = lo
            out.loc[group.index, f"{model}-hi-{level}"] = hi
    return out.drop(columns=["_pos", "_abs"])
