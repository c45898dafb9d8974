"""Calibration metrics shared by every area: one expected calibration error, one binning.

Why one home: the behaviour models (purchase probability against bought or
not) and the text models (top-class confidence against right or wrong) both
report ECE. Two copies had drifted apart in argument order and bin count;
here there is one, in scikit-learn's argument order (``y_true`` first, then
``y_prob``), and each caller states its bin count, so a reported number says
how it was binned.

>>> import numpy as np
>>> round(expected_calibration_error(np.array([1, 0]), np.array([0.9, 0.9]), n_bins=15), 2)
0.4
"""

from __future__ import annotations

import numpy as np


def _binary_arrays(y_true: np.ndarray, y_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(float).ravel()
    # Probabilities a hair outside [0, 1] (float error after calibration) belong to the end bins.
    p = np.clip(np.asarray(y_prob, dtype=float).ravel(), 0.0, 1.0)
    if y.shape != p.shape:
        raise ValueError(f"y_true has {len(y)} values but y_prob has {len(p)}; pass one probability per label")
    return y, p


def reliability_bins(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Non-empty equal-width probability bins with their mean prediction and observed rate.

    A probability on a bin edge belongs to the lower bin (``(lower, upper]``; the
    first bin also holds 0), as in ``sklearn.calibration.calibration_curve``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins {n_bins} must be at least 1")
    y, p = _binary_arrays(y_true, y_prob)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = index == b
        if mask.any():
            out.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": int(mask.sum()),
                        "predicted": float(p[mask].mean()), "observed": float(y[mask].mean())})
    return out


def expected_calibration_error(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the bin-size-weighted mean |observed rate − mean predicted| over equal-width bins.

    ``y_true`` holds 0/1 outcomes (or booleans: was the top class right?), ``y_prob``
    the predicted probability of outcome 1 (or the top-class confidence). No rows
    give 0.0: there is no miscalibration to report.
    """
    bins = reliability_bins(y_true, y_prob, n_bins)
    total = sum(b["count"] for b in bins)
    if total == 0:
        return 0.0
    return float(sum(b["count"] * abs(b["observed"] - b["predicted"]) for b in bins) / total)
