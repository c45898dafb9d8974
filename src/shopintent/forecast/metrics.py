"""Forecast accuracy: MASE, WAPE, MAPE and interval coverage, per series.

MASE divides the mean absolute error by the in-sample mean absolute error of the
seasonal naive forecast on the history before the first evaluated cut-off, so
MASE < 1 means "better than repeating last season" on the same scale for every
series (Hyndman & Koehler 2006). WAPE (sum |e| / sum y) stays defined for
intermittent series; MAPE is reported only for comparison with published numbers
and skips periods with zero demand (their count is returned, never hidden).
"""

from __future__ import annotations

import numpy as np


def seasonal_naive_scale(history: np.ndarray, season_length: int) -> float:
    """Mean absolute seasonal difference of the history: the MASE denominator.

    Falls back to the lag-1 difference when the history is shorter than two seasons.
    """
    lag = season_length if len(history) > 2 * season_length else 1
    diffs = np.abs(history[lag:] - history[:-lag])
    return float(diffs.mean()) if len(diffs) else float("nan")


def mase(y: np.ndarray, yhat: np.ndarray, scale: float) -> float:
    """Mean absolute error divided by the seasonal naive in-sample scale."""
    return float(np.mean(np.abs(y - yhat)) / scale) if scale > 0 else float("nan")


def wape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Sum of absolute errors over the sum of actual demand."""
    total = float(np.sum(np.abs(y)))
    return float(np.sum(np.abs(y - yhat)) / total) if total > 0 else float("nan")


def mape(y: np.ndarray, yhat: np.ndarray) -> tuple[float, int]:
    """Mean absolute percentage error in percent over periods with non-zero demand, and how many were skipped."""
    nonzero = y != 0
    if not nonzero.any():
        return float("nan"), int(len(y))
    return float(np.mean(np.abs((y[nonzero] - yhat[nonzero]) / y[nonzero])) * 100), int((~nonzero).sum())


def coverage(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of actual values inside their interval (ends included)."""
    inside = (y >= low) & (y <= high)
    return float(inside.mean()) if len(y) else float("nan")
