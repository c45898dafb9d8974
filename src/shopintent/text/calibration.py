"""Calibrated confidences: temperature scaling and rejection thresholds.

Why: a linear head's scores are not probabilities, and a shop assistant acts
on confidence (answer, ask back, or hand over). One temperature fitted on
validation logits (Guo et al., 2017) makes softmax confidences honest without
changing which class wins; ECE (:func:`shopintent.metrics.expected_calibration_error`,
15 bins for text) says how honest they are. The out-of-scope
threshold is chosen on validation data only, never on test.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

#: Equal-width bins of every text ECE (reported as "ECE (15 bins)"); behaviour uses 10.
ECE_BINS = 15


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature ``T`` minimising the negative log-likelihood of ``softmax(logits / T)``.

    ``targets`` are column indices into ``logits``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets)
    if len(targets) == 0:
        return 1.0
    rows = np.arange(len(targets))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, targets].mean())

    result = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded")
    return float(np.exp(result.x))


def calibrated_proba(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``logits / temperature``."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def choose_rejection_threshold(
    confidence: np.ndarray,
    correct_in_scope: np.ndarray,
    is_oos: np.ndarray,
    oos_weight: float = 1.0,
    tolerance: float = 0.01,
    rejected_anyway: np.ndarray | None = None,
    recall_target: float | None = None,
) -> tuple[float, dict[str, float]]:
    """The confidence below which a query is rejected as out-of-scope, chosen on validation rows.

    Maximises ``in-scope accuracy + oos_weight * OOS recall`` where in-scope
    accuracy counts a rejected in-scope query as wrong; ``correct_in_scope`` is
    whether the top in-scope class is right (ignored for OOS rows) and
    ``is_oos`` marks the OOS rows; ``rejected_anyway`` marks rows already
    rejected whatever the threshold (the head's top class is ``oos``). Returns the threshold and the validation
    scores it reaches. Among thresholds scoring within ``tolerance`` of the
    best, the lowest is taken: on easy validation data (synthetic support
    messages all scored ~1.0) the best threshold sits at 0.99999 and would
    reject every real query that is merely phrased differently.
    With ``recall_target``, the operating point is instead the threshold
    with the best in-scope accuracy among those whose validation OOS recall
    reaches the target (the max-score rule when none does): a shop that
    must catch, say, 90 % of out-of-scope messages says so directly.
    With no OOS rows in validation, returns 0 (never reject).
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct_in_scope, dtype=bool)
    is_oos = np.asarray(is_oos, dtype=bool)
    if not is_oos.any() or is_oos.all():
        return 0.0, {}
    candidates = np.unique(np.concatenate([[0.0], confidence]))
    rejected = (
        np.zeros_like(is_oos)
        if rejected_anyway is None
        else np.asarray(rejected_anyway, dtype=bool)
    )
    correct = correct & ~rejected
    ins_conf, ins_correct = confidence[~is_oos], correct[~is_oos]
    oos_always = int((rejected & is_oos).sum())
    oos_conf = np.sort(confidence[is_oos & ~rejected])
    n_oos = int(is_oos.sum())
    ins_sorted = np.argsort(ins_conf)
    ins_conf_sorted = ins_conf[ins_sorted]
    # cumulative correct among in-scope rows with confidence >= t
    correct_suffix = np.concatenate([np.cumsum(ins_correct[ins_sorted][::-1])[::-1], [0]])
    kept_from = np.searchsorted(ins_conf_sorted, candidates, side="left")
    acc = correct_suffix[kept_from] / len(ins_conf)
    recall = (oos_always + np.searchsorted(oos_conf, candidates, side="left")) / n_oos
    score = acc + oos_weight * recall
    chosen = int(np.flatnonzero(score >= score.max() - tolerance)[0])
    if recall_target is not None and (recall >= recall_target).any():
        reaching = np.flatnonzero(recall >= recall_target)
        chosen = int(reaching[np.argmax(acc[reaching])])
    return float(candidates[chosen]), {
        "validation_in_scope_accuracy": float(acc[chosen]),
        "validation_oos_recall": float(recall[chosen]),
    }
