"""Scores for intent predictions, as the CLINC150 paper defines them, plus calibration.

Why one function: the benchmark, the tests and ``shopintent intent eval``
must compute "in-scope accuracy" and "OOS recall" the same way. In-scope
accuracy counts a rejected in-scope query as wrong; OOS recall is the share
of ``oos`` rows predicted ``oos``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score

from shopintent.metrics import expected_calibration_error
from shopintent.text.calibration import ECE_BINS


def intent_scores(
    truth: Sequence[str],
    predicted: Sequence[str],
    confidence: Sequence[float] | None = None,
    oos_label: str = "oos",
) -> dict[str, float]:
    """accuracy, macro-F1, and (when ``oos`` rows exist) in-scope accuracy, OOS recall/precision; ECE.

    ECE is computed on the confidence of each predicted label against whether it was right.
    """
    truth_arr = np.asarray(list(truth), dtype=object)
    pred_arr = np.asarray(list(predicted), dtype=object)
    if len(truth_arr) != len(pred_arr):
        raise ValueError(f"{len(truth_arr)} true labels but {len(pred_arr)} predictions")
    if len(truth_arr) == 0:
        raise ValueError("no rows to score")
    correct = truth_arr == pred_arr
    scores: dict[str, float] = {
        "rows": float(len(truth_arr)),
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(truth_arr, pred_arr, average="macro", zero_division=0)),
    }
    is_oos = truth_arr == oos_label
    if is_oos.any():
        scores["oos_rows"] = float(is_oos.sum())
        scores["oos_recall"] = float((pred_arr[is_oos] == oos_label).mean())
        said_oos = pred_arr == oos_label
        scores["oos_precision"] = float(is_oos[said_oos].mean()) if said_oos.any() else 0.0
        if (~is_oos).any():
            scores["in_scope_accuracy"] = float(correct[~is_oos].mean())
    if confidence is not None:
        scores["ece"] = expected_calibration_error(
            correct, np.asarray(list(confidence), dtype=float), n_bins=ECE_BINS
        )
    return scores
