"""Fill missing catalogue fields from the product photo, only where the image head is confident.

Why a threshold: a wrong colour or type in the catalogue is worse than an
empty field, so a field is filled only when the image head's probability
reaches ``threshold``; :func:`filling_report` measures, on test products whose
field was hidden, how many fields that fills (coverage) and how many of those
are right (precision).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopintent.multimodal.heads import SoftmaxHead

#: Fields the seed promise names: type, colour, gender, usage.
FIELDS = ("articleType", "baseColour", "gender", "usage")
THRESHOLDS = (0.0, 0.5, 0.8, 0.9)


def fill(head: SoftmaxHead, embeddings: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Predicted value per row ("" where confidence < ``threshold``) and the confidence."""
    proba = np.exp(head.log_proba(embeddings))
    best = proba.argmax(1)
    confidence = proba[np.arange(len(best)), best]
    values = np.where(confidence >= threshold, head.classes_[best], "")
    return values, confidence


def filling_report(
    head: SoftmaxHead, embeddings: np.ndarray, truth: np.ndarray, thresholds: Sequence[float] = THRESHOLDS
) -> list[dict[str, float]]:
    """Coverage and precision of filling hidden fields at each confidence threshold."""
    rows = []
    for threshold in thresholds:
        values, _ = fill(head, embeddings, threshold)
        filled = values != ""
        rows.append({
            "threshold": float(threshold), "coverage": float(filled.mean()),
            "precision": float((values[filled] == truth[filled]).mean()) if filled.any() else float("nan"),
        })
    return rows
