"""Rolling split-conformal prediction intervals from earlier backtest cut-offs only.

Why not the models' own intervals: Croston, ADIDA, IMAPA and LightGBM have none, and
ETS/ARIMA intervals assume Gaussian errors that weekly drug sales do not have. Why not
statsforecast's ``ConformalIntervals``: it refits every model once per calibration window,
several times the backtest's cost. Here the backtest already produces out-of-sample
errors at every cut-off; the interval at cut-off *t* for horizon step *h* is the point
forecast ± the conformal quantile of |error| at step *h* over the ``window`` cut-offs
before *t* (same series, same model). It uses nothing at or after *t*, so an interval is
as available at forecast time as the forecast itself.

Normalised scores (locally weighted conformal, Lei et al. 2018): pharma demand is noisier
in some seasons (winter) and at higher levels, so plain |error| quantiles from a noisy
half-year over-cover a calm one. The score can instead be |error| / *s*, *s* a scale known
at the cut-off (:data:`SCALES`: the recent level or mean absolute change over the last
:data:`SCALE_WINDOW` periods, or the same around the same period one season back), and
the band is ± quantile × *s*. Which scale a model gets is chosen per backtest on the
validation cut-offs only, by the mean interval score (:func:`calibrated_intervals`).

Online quantile tracking (the P part of conformal PID control, Angelopoulos, Candès &
Tibshirani 2023, with the delayed feedback of multi-step forecasts, Wang & Hyndman 2024):
a static quantile of past scores lags behind when the errors change (pharma weekly 1-4:
errors larger in the validation half-year than in the test one, so its bands under-cover
one and over-cover the other). With a learning rate ``lr`` > 0 the band's quantile *q*
of each series and step instead starts at the empirical quantile of the first scores and
then moves after every miss or hit whose outcome is known:
*q* ← max(0, *q* + η (miss − α)), η = ``lr`` × the largest score in the window (scale
free). Misses push it out, hits pull it in at α/(1−α) the speed, so the long-run share of
misses is driven towards α whatever the errors do (no exchangeability needed). The rate is
fixed beforehand at conformal PID's default, :data:`LEARNING_RATE`, not tuned: with 26
validation cut-offs the validation interval score prefers the static quantile
(``learning_rate=0``), whose validation and test coverage are what the online update is
there to correct, so choosing the rate on it would undo the method.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Cut-offs of past errors each interval is calibrated on.
DEFAULT_WINDOW = 26
#: What a conformity score can be divided by; "none" keeps the plain absolute error.
SCALES: tuple[str, ...] = ("none", "recent level", "recent change", "seasonal level", "seasonal change")
#: Periods each local scale averages over (a quarter of weekly data).
SCALE_WINDOW = 13
#: The backtests' quantile-tracking learning rate (conformal PID's default; 0 = the static rolling quantile).
LEARNING_RATE = 0.1


def conformal_quantile(abs_errors: np.ndarray, level: float) -> float:
    """The finite-sample conformal quantile of absolute errors for coverage ``level`` (0-100)."""
    n = len(abs_errors)
    if n == 0:
        return float("nan")
    rank = min(n, math.ceil((n + 1) * level / 100))
    return float(np.sort(abs_errors)[rank - 1])


def local_scales(series: pd.DataFrame, season: int, window: int = SCALE_WINDOW) -> pd.DataFrame:
    """Per series and period, every non-trivial :data:`SCALES` entry as known at the end of that period.

    Returns ``unique_id, cutoff`` plus one column per scale, to join on a backtest's
    cut-offs. "recent level" / "recent change" average y / |Δy| over the ``window``
    periods ending at the cut-off; the seasonal ones average the ``window`` periods
    centred one season before the next period (for a season shorter than the window,
    the recent ones). A scale that is not positive (an all-zero stretch, too little
    history) falls back to the mean |Δy| of all history so far, else 1.
    """
    shift = max(season - (window + 1) // 2, 0)
    parts = []
    for uid, group in series.groupby("unique_id", sort=False):
        group = group.sort_values("ds", kind="stable")
        y = group["y"].astype(float).reset_index(drop=True)
        change = y.diff().abs()
        level = y.rolling(window, min_periods=1).mean()
        moves = change.rolling(window, min_periods=1).mean()
        fallback = change.expanding().mean()
        frame = pd.DataFrame({"recent level": level, "recent change": moves,
                              "seasonal level": level.shift(shift), "seasonal change": moves.shift(shift)})
        frame = frame.where(frame > 0, fallback, axis=0)
        frame = frame.where(frame > 0, 1.0)
        frame.insert(0, "cutoff", group["ds"].to_numpy())
        frame.insert(0, "unique_id", uid)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def interval_score(y: np.ndarray, low: np.ndarray, high: np.ndarray, level: float) -> np.ndarray:
    """Winkler's interval score per row: width plus 2/alpha times the miss (lower is better; a proper score)."""
    alpha = 1 - level / 100
    return (high - low) + 2 / alpha * (np.maximum(low - y, 0) + np.maximum(y - high, 0))


def calibrated_intervals(cv: pd.DataFrame, model: str, levels: tuple[int, ...], calibration: int,
                         step_size: int = 1, learning_rate: float = LEARNING_RATE
                         ) -> tuple[pd.DataFrame, str, dict[int, float]]:
    """The model's bands with the :data:`SCALES` entry that scored best on the validation cut-offs.

    ``cv`` holds the :func:`local_scales` columns. Validation = the first ``calibration``
    cut-offs, rows whose target is at or before the first scored cut-off and that have a
    band (enough earlier cut-offs). The criterion is the mean interval score over the
    levels, each series' scores divided by its mean demand there so one large series does
    not decide. Ties and a validation without bands keep "none". Every candidate's bands
    track their quantile online at ``learning_rate`` (0: the static rolling quantile).
    Returns the frame with the chosen bands, the scale's name and its validation coverage
    per level.
    """
    cutoffs = np.sort(cv["cutoff"].unique())
    first_scored = cutoffs[min(calibration, len(cutoffs) - 1)]
    validation = ((cv["cutoff"] < first_scored) & (cv["ds"] <= first_scored)).to_numpy()
    mean_y = cv["y"].where(validation).groupby(cv["unique_id"]).transform("mean").to_numpy()
    best: tuple[float, str, pd.DataFrame, dict[int, float]] | None = None
    for name in SCALES:
        banded = rolling_conformal(cv, model, levels, step_size=step_size, scale=None if name == "none" else name,
                                   learning_rate=learning_rate)
        y = banded["y"].to_numpy()
        have = validation & banded[f"{model}-lo-{levels[0]}"].notna().to_numpy() & (mean_y > 0)
        if not have.any():
            return banded, "none", {level: float("nan") for level in levels}
        total, cover = 0.0, {}
        for level in levels:
            lo, hi = banded[f"{model}-lo-{level}"].to_numpy(), banded[f"{model}-hi-{level}"].to_numpy()
            total += float(np.mean(interval_score(y[have], lo[have], hi[have], level) / mean_y[have]))
            cover[level] = float(np.mean((y[have] >= lo[have]) & (y[have] <= hi[have])))
        if best is None or total < best[0]:
            best = (total, name, banded, cover)
    assert best is not None, "SCALES is not empty"
    return best[2], best[1], best[3]


def _tracked_quantiles(pos: np.ndarray, errors: np.ndarray, level: float, lag: int, window: int,
                       min_calibration: int, learning_rate: float) -> np.ndarray:
    """Per row (cut-off positions ascending), the score quantile its band uses; NaN without enough past.

    With ``learning_rate`` 0 it is the conformal quantile of the ``window`` scores known
    at the row's cut-off. Otherwise the first banded row starts from their plain empirical quantile and
    every later row's is the tracked one (module docstring), updated with each earlier
    row's miss as soon as its outcome is known (``lag`` positions later), in order.
    """
    alpha = 1 - level / 100
    out = np.full(len(pos), np.nan)
    tracked: float | None = None
    fed = 0  # rows whose miss has been fed into ``tracked``
    for i, p in enumerate(pos):
        past = errors[(pos <= p - lag) & (pos > p - lag - window)]
        if len(past) < min_calibration:
            continue
        if learning_rate == 0:
            out[i] = conformal_quantile(past, level)
            continue
        if tracked is None:
            # Start from the plain empirical quantile: the conformal one of 8 scores is their maximum at
            # 80 %, too wide a start for steps of η α to bring down within a validation half-year.
            tracked, fed = float(np.quantile(past, level / 100)), i
        eta = learning_rate * float(past.max())
        while fed < i and pos[fed] <= p - lag:
            if not np.isnan(out[fed]):
                miss = float(errors[fed] > out[fed])
                tracked = max(tracked + eta * (miss - alpha), 0.0)
            fed += 1
        out[i] = tracked
    return out


def rolling_conformal(cv: pd.DataFrame, model: str, levels: tuple[int, ...], step_size: int = 1,
                      window: int = DEFAULT_WINDOW, min_calibration: int = 8, scale: str | None = None,
                      learning_rate: float = 0.0) -> pd.DataFrame:
    """Add ``{model}-lo-{level}`` / ``{model}-hi-{level}`` columns to a backtest frame.

    ``cv`` has ``unique_id, cutoff, step, y`` and the model's point column. Rows whose
    series has fewer than ``min_calibration`` earlier cut-offs get NaN bounds (they are
    the calibration period and are not scored). ``step_size`` is the periods between
    consecutive cut-offs. ``scale``: a :func:`local_scales` column of ``cv`` to normalise
    the scores by (module docstring); None keeps plain absolute errors.
    ``learning_rate``: 0 for the static rolling quantile, > 0 for online quantile tracking.
    """
    out = cv.copy()
    for level in levels:
        out[f"{model}-lo-{level}"] = np.nan
        out[f"{model}-hi-{level}"] = np.nan
    cutoffs_sorted = np.sort(out["cutoff"].unique())
    position = {c: i for i, c in enumerate(cutoffs_sorted)}
    out["_pos"] = out["cutoff"].map(position)
    out["_scale"] = 1.0 if scale is None else out[scale]
    out["_abs"] = (out["y"] - out[model]).abs() / out["_scale"]
    for (_, step), group in out.groupby(["unique_id", "step"], sort=False):
        group = group.sort_values("_pos", kind="stable")
        pos = group["_pos"].to_numpy()
        point = group[model].to_numpy()
        size = group["_scale"].to_numpy()
        # An error at cut-off c with step h is known only at c + h periods, so only
        # cut-offs at least ceil(h / step_size) positions before p are usable.
        lag = math.ceil(int(step) / step_size)
        for level in levels:
            q = _tracked_quantiles(pos, group["_abs"].to_numpy(), level, lag, window, min_calibration,
                                   learning_rate) * size
            out.loc[group.index, f"{model}-lo-{level}"] = np.maximum(point - q, 0.0)
            out.loc[group.index, f"{model}-hi-{level}"] = point + q
    return out.drop(columns=["_pos", "_abs", "_scale"])
