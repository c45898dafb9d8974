"""Binary-classification metrics the behaviour models report, honest about imbalance.

ROC-AUC alone flatters rare-positive problems (purchases are 10-15 % of
sessions), so every model here also reports PR-AUC (average precision), F1 at
a threshold chosen on *validation* data (never on the data it is scored on),
and calibration: the expected calibration error (ECE) and the reliability
bins behind it, because a probability that drives a coupon must mean what it
says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, roc_auc_score


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


def expected_calibration_error(y_true: np.ndarray, probabilities: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the bin-size-weighted mean |observed rate − mean predicted| over equal-width bins."""
    bins = reliability_bins(y_true, probabilities, n_bins)
    total = sum(b["count"] for b in bins)
    return float(sum(b["count"] * abs(b["observed"] - b["predicted"]) for b in bins) / total)


def reliability_bins(y_true: np.ndarray, probabilities: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Non-empty equal-width probability bins with their mean prediction and observed rate."""
    y = np.asarray(y_true).astype(float).ravel()
    p = np.clip(np.asarray(probabilities, dtype=float).ravel(), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = index == b
        if mask.any():
            out.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": int(mask.sum()),
                        "predicted": float(p[mask].mean()), "observed": float(y[mask].mean())})
    return out


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
        ece=expected_calibration_error(y, p),
    )
