"""Robust training: winsorise the history a model is fitted on, with only what the cut-off knows.

Why: a handful of weeks in the pharma series are far off their neighbours (R03 sold 98
units in the week ending 2017-10-01 against a 13-week median of 35); a model fitted on them
learns lags and rolling means that expect such weeks again. Clipping each training value
to its local median ± ``k`` robust standard deviations (1.4826 × the median absolute
deviation around that median) keeps the lag features and the target near the usual level
while leaving every ordinary week as it is. The clipping is an mlforecast target
transform, so it runs on the training frame of each cut-off only (``fit_transform`` sees
the data up to the cut-off and nothing after; the centred windows shrink at the end rather
than look ahead); forecasts are not clipped back (``inverse_transform`` is the identity),
so the model's forecast is of ordinary demand.
"""

from __future__ import annotations

import pandas as pd
from mlforecast.target_transforms import BaseTargetTransform

#: Robust standard deviations a training value may sit from its local median.
CLIP_K = 3.0
#: Periods in the centred window of the local median.
MEDIAN_WINDOW = 13
#: Periods in the centred window of the median absolute deviation (wider: a steadier spread).
MAD_WINDOW = 52
#: The median absolute deviation of a normal sample times this estimates its standard deviation.
MAD_TO_SD = 1.4826


def winsorise(y: pd.Series, k: float = CLIP_K, median_window: int = MEDIAN_WINDOW,
              mad_window: int = MAD_WINDOW) -> pd.Series:
    """``y`` clipped to its centred rolling median ± ``k`` robust standard deviations.

    >>> y = pd.Series([10.0, 11, 9, 10, 12, 10, 60, 11, 10, 9, 10, 11, 10])
    >>> round(float(winsorise(y)[6]), 2)
    12.22
    >>> bool((winsorise(y).drop(6) == y.drop(6)).all())
    True
    """
    median = y.rolling(median_window, center=True, min_periods=3).median()
    spread = (y - median).abs().rolling(mad_window, center=True, min_periods=5).median()
    limit = k * MAD_TO_SD * spread
    return y.clip(lower=median - limit, upper=median + limit)


class WinsorisedTarget(BaseTargetTransform):
    """mlforecast target transform: per series, :func:`winsorise` the training target (module docstring)."""

    def __init__(self, k: float = CLIP_K) -> None:
        self.k = k

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """The training frame with each series' target winsorised (only this frame's rows are seen)."""
        out = df.copy()
        out[self.target_col] = (out.groupby(self.id_col, observed=True, sort=False)[self.target_col]
                                .transform(lambda y: winsorise(y, self.k)))
        return out

    def inverse_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Forecasts stay as they are: they forecast ordinary demand, not the clipped history."""
        return df

    def update(self, df: pd.DataFrame) -> pd.DataFrame:
        """New values during a recursive forecast are the model's own, already ordinary."""
        return df
