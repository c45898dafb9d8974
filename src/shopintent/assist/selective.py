"""Selective answering: accuracy against coverage when the assistant answers only above a confidence.

Why: handing over to a person is right when the top answer is likely wrong,
including questions the Q&A history cannot answer at all. Sorting questions
by confidence and answering the most confident share ``c`` gives accuracy at
coverage ``c``; the area under that curve (mean over every coverage step)
summarises it: the overall accuracy when confidence says nothing, its
largest when every right answer is more confident than every wrong one.

>>> out = accuracy_coverage(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False]))
>>> out["area"], out["accuracy_at_coverage"]["0.5"], out["accuracy_at_coverage"]["1.0"]
(0.7916666666666666, 1.0, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopintent.datasets import clinc150

COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def accuracy_coverage(confidence: np.ndarray, correct: np.ndarray,
                      coverages: Sequence[float] = COVERAGES) -> dict[str, Any]:
    """Area under accuracy-vs-coverage, accuracy at chosen coverages, and the curve's points."""
    order = np.argsort(-np.asarray(confidence), kind="stable")
    hits = np.asarray(correct, dtype=float)[order]
    ranked = np.asarray(confidence)[order]
    accuracy = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    last = {str(c): max(int(np.ceil(c * len(hits))) - 1, 0) for c in coverages}
    at = {c: float(accuracy[i]) for c, i in last.items()}
    threshold_at = {c: float(ranked[i]) for c, i in last.items()}
    return {"area": float(accuracy.mean()), "accuracy_at_coverage": at,
            "confidence_threshold_at_coverage": threshold_at, "rows": int(len(hits))}


def clinc_out_of_scope(settings: Any = None, split: str = "test") -> list[str]:
    """CLINC150's out-of-scope queries of ``split``: questions no shop Q&A answers (banking, travel, chit-chat)."""
    data = clinc150.load(settings)
    return [q.text for q in data.queries if q.intent == clinc150.OOS and q.split == split]
