"""Abstention for a closed-set text classifier: answer only where validation says the answer is right often enough.

Why: a classifier with no out-of-scope rows in its data (sentiment: positive,
negative, neutral) still has to say "I don't know" for text it cannot read —
keyboard mashes, a mixed review, a language it barely saw. The rejection
machinery of :class:`~shopintent.text.rejection.RejectingClassifier` picks its
threshold from validation rows labelled out-of-scope; here there are none
that would be honest (any made-up "gibberish" rows would teach the threshold
the very strings it is later tested on). Instead the threshold is the lowest
calibrated confidence at which the validation rows the model keeps reach a
stated precision (selective classification, Geifman & El-Yaniv 2017): below
it the model answers its ``oos_label`` (``unsure``) with confidence
``1 - top probability``, exactly as a rejected intent does, so ``parse``,
``save`` and ``load`` need nothing new.

>>> import numpy as np
>>> choose_precision_threshold(np.array([0.9, 0.8, 0.6, 0.55]), np.array([1, 1, 0, 1]), 0.95)
0.8
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopintent.log import get_logger
from shopintent.metrics import expected_calibration_error
from shopintent.text.calibration import ECE_BINS
from shopintent.text.rejection import RejectingClassifier

log = get_logger(__name__)


def choose_precision_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The lowest confidence ``t`` such that rows with confidence ≥ ``t`` are right at least ``target`` of the time.

    Returns 0 (never abstain) when all rows together already reach the
    target, and the highest confidence seen when no threshold does (the
    model then answers only its most confident rows).
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target precision {target!r} must be in (0, 1]")
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if len(confidence) == 0:
        raise ValueError("no validation rows to choose a threshold on")
    order = np.argsort(-confidence, kind="stable")
    conf_sorted, right = confidence[order], correct[order]
    precision = np.cumsum(right) / np.arange(1, len(right) + 1)
    # a threshold keeps every row with confidence >= it: only the last row of a tie run is a candidate
    run_end = np.append(conf_sorted[1:] != conf_sorted[:-1], True)
    reaching = np.flatnonzero(run_end & (precision >= target))
    if reaching.size == 0:
        return float(conf_sorted[0])
    last = int(reaching[-1])
    return 0.0 if last == len(right) - 1 else float(conf_sorted[last])


def set_abstention(
    model: RejectingClassifier,
    valid_texts: Sequence[str],
    valid_labels: Sequence[str],
    target: float,
) -> RejectingClassifier:
    """Set ``model.threshold_`` so its answers on validation reach ``target`` precision; record the numbers.

    ``model`` must be fitted and calibrated (its temperature fitted on the
    same validation rows) and its ``oos_label`` must be the abstention label;
    ``metrics_`` gains the target, the coverage and precision reached, and the
    ECE of the calibrated top probability on these rows.
    """
    labels = np.asarray(list(valid_labels), dtype=object)
    proba = model.predict_proba(list(valid_texts))
    top = model.classes_[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    correct = top == labels
    model.threshold_ = choose_precision_threshold(confidence, correct, target)
    kept = confidence >= model.threshold_
    model.metrics_ = {
        **model.metrics_,
        "threshold": model.threshold_,
        "precision_target": target,
        "validation_coverage": float(kept.mean()),
        "validation_precision_answered": float(correct[kept].mean()) if kept.any() else 0.0,
        "validation_accuracy_no_abstention": float(correct.mean()),
        "validation_ece": expected_calibration_error(correct, confidence, n_bins=ECE_BINS),
    }
    log.info(
        "abstention threshold chosen on validation",
        threshold=round(model.threshold_, 4),
        target=target,
        coverage=round(model.metrics_["validation_coverage"], 4),
    )
    return model
