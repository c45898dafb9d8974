"""SeasonalProfile: a smoothed yearly profile times the current deseasonalised level.

Why: MASE here is scaled by the in-sample seasonal naive (52 weeks for weekly series), so
the yearly cycle matters, yet seasonal naive repeats one noisy week of last year, and the
weekly ETS / ARIMA are non-seasonal (52-period seasonal fits take minutes per refit). A
classical multiplicative decomposition keeps the cycle but averages its noise away:

* the trend is the centred 2 × m moving average of the history; each period's ratio to it,
  averaged over every earlier season at the same position (phase), is the seasonal index;
* the index is smoothed over neighbouring positions (a circular moving average of
  ``2 × smooth + 1`` periods) and normalised to mean 1: demand for respiratory drugs in one
  January week says more about the weeks around it than a single week of last year does;
* the level is simple exponential smoothing of the deseasonalised last three seasons, its
  smoothing weight the one with the lowest in-sample one-step squared error on a grid;
* the forecast for step *h* is the level times the index at that position.

Everything is computed from the history the model is given (at each cut-off, data up to
it), so ``forecast`` and ``forward`` are one computation and nothing is kept between
cut-offs. Series shorter than two seasons and two periods get the mean of the last
``m // 4`` periods (at least one). The 9-period smoothing (``smooth=4``) was chosen on the
pharma validation weeks before the test weeks (docs/forecast.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from statsforecast.models import _TS

#: Positions either side that the seasonal index is averaged over (chosen on validation weeks).
SMOOTH = 4
#: Seasons of deseasonalised history the level is smoothed over.
LEVEL_SEASONS = 3
#: Smoothing weights the level's exponential smoothing chooses among.
ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.round(np.linspace(0.05, 1.0, 20), 2))


def seasonal_index(y: np.ndarray, season_length: int, smooth: int = SMOOTH) -> np.ndarray:
    """The multiplicative seasonal index by phase (position relative to the end of ``y``), mean 1.

    Phase ``p`` holds the periods ``t`` with ``(t - len(y)) % m == p``, so the forecast for
    step ``h`` reads phase ``(h - 1) % m``. Phases without a ratio (a zero trend) get 1.
    """
    m, n = season_length, len(y)
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    trend = np.convolve(y, weights, mode="valid")
    at = np.arange(len(weights) // 2, len(weights) // 2 + len(trend))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(trend > 0, y[at] / np.where(trend > 0, trend, 1.0), np.nan)
    phase = (at - n) % m
    index = np.ones(m)
    for p in range(m):
        values = ratio[(phase == p) & np.isfinite(ratio)]
        if len(values):
            index[p] = values.mean()
    if smooth:
        width = 2 * smooth + 1
        index = np.convolve(np.r_[index[-smooth:], index, index[:smooth]], np.ones(width) / width, mode="valid")
    mean = index.mean()
    return index / mean if mean > 0 else np.ones(m)


def smoothed_level(x: np.ndarray, alphas: tuple[float, ...] = ALPHAS) -> float:
    """The last level of simple exponential smoothing, the weight with the lowest one-step squared error."""
    best_sse, best_level = np.inf, float(x[-1])
    for alpha in alphas:
        level, sse = float(x[0]), 0.0
        for value in x[1:]:
            sse += (value - level) ** 2
            level = alpha * value + (1 - alpha) * level
        if sse < best_sse:
            best_sse, best_level = sse, level
    return best_level


def profile_forecast(y: np.ndarray, h: int, season_length: int, smooth: int = SMOOTH) -> np.ndarray:
    """The next ``h`` values: the deseasonalised level times the smoothed seasonal index (module docstring)."""
    y = np.asarray(y, dtype=float)
    m, n = season_length, len(y)
    if n < 2 * m + 2:
        return np.repeat(y[-max(1, m // 4):].mean(), h)
    index = seasonal_index(y, m, smooth)
    deseasonalised = y / index[(np.arange(n) - n) % m]
    level = smoothed_level(deseasonalised[-LEVEL_SEASONS * m:])
    return level * index[np.arange(h) % m]


class SeasonalProfile(_TS):
    """statsforecast model wrapping :func:`profile_forecast` (recomputed from the history at every call)."""

    def __init__(self, season_length: int, smooth: int = SMOOTH, alias: str = "SeasonalProfile") -> None:
        self.season_length = season_length
        self.smooth = smooth
        self.alias = alias
        self.prediction_intervals = None

    def __repr__(self) -> str:
        return self.alias

    def fit(self, y: np.ndarray, X: Any = None) -> SeasonalProfile:
        """Keep the history: the forecast is a closed-form function of it."""
        self.y_ = np.asarray(y, dtype=float)
        return self

    def predict(self, h: int, X: Any = None, level: Any = None) -> dict[str, np.ndarray]:
        """The next ``h`` values after the fitted history."""
        return {"mean": profile_forecast(self.y_, h, self.season_length, self.smooth)}

    def forecast(self, y: np.ndarray, h: int, X: Any = None, X_future: Any = None, level: Any = None,
                 fitted: bool = False) -> dict[str, np.ndarray]:
        """The next ``h`` values after ``y`` (statsforecast's memory-light path and refit-every-cut-off path)."""
        return {"mean": profile_forecast(y, h, self.season_length, self.smooth)}

    def forward(self, y: np.ndarray, h: int, X: Any = None, X_future: Any = None, level: Any = None,
                fitted: bool = False) -> dict[str, np.ndarray]:
        """Between refits: the same computation on the longer history (nothing was fitted to keep)."""
        return self.forecast(y, h)
