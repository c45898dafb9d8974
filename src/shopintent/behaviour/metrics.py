"""Binary-classification metrics the behaviour models report, honest about imbalance.

ROC-AUC alone flatters rare-positive problems (purchases are 10-15 % of
sessions), so every model here also reports PR-AUC (average precision), F1 at
a threshold chosen on *validation* data (never on the data it is scored on),
and calibration: the expected calibration error (ECE) and the reliability
bins behind it (both in :mod:`shopintent.metrics`), because a probability
that drives a coupon must mean what it says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, roc_auc_score

# ECE lives in the shared metrics module: text reports it too, with its own bin count.
from shopintent.metrics import expected_calibration_error

#: Equal-width bins of every behaviour ECE (text uses 15).
ECE_BINS = 10


def _check(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(scores, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"{len(y)} labels but {len(p)} scores")
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"labels hold a single class ({int(y[0]) if len(y) else 'none'}) in {len(y)} rows: "
            "ROC-AUC and PR-AUC need both classes; use a larger or later split"
        )
    return y, p


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold that maximises F1 on the given (validation) data."""
    y, p = _check(y_true, scores)
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    # The last precision/recall pair has no threshold.
    best = int(np.argmax(f1[:-1]))
    return float(thresholds[best])


@dataclass(frozen=True, slots=True)
class BinaryScores:
    """Held-out metrics of one binary model on one split."""

    n: int
    positives: int
    roc_auc: float
    pr_auc: float
    f1: float
    threshold: float
    ece: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def binary_scores(y_true: np.ndarray, probabilities: np.ndarray, threshold: float) -> BinaryScores:
    """ROC-AUC, PR-AUC, ECE and F1 at ``threshold`` (chosen beforehand on validation data)."""
    y, p = _check(y_true, probabilities)
    return BinaryScores(
        n=len(y),
        positives=int(y.sum()),
        roc_auc=float(roc_auc_score(y, p)),
        pr_auc=float(average_precision_score(y, p)),
        f1=float(f1_score(y, p >= threshold, zero_division=0.0)),
        threshold=float(threshold),
        ece=expected_calibration_error(y, p, n_bins=ECE_BINS),
    )
