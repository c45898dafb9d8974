"""Late fusion with a weight chosen on validation products, never on the test split.

Why a weight: the image and title heads are not equally reliable (on catalogue
data the title names the article type, the photo mostly confirms it), so an
unweighted sum of log-probabilities lets the weaker input pull the stronger one
down. ``w * log p(image) + (1 - w) * log p(title)`` with ``w`` picked on a
validation part of the training products keeps the gain where the photo helps
and falls back to the title where it does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Image weights tried; 0 = title only, 1 = image only, 0.5 = the plain sum (scaled).
WEIGHTS: tuple[float, ...] = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 21))


def fuse(image_logp: np.ndarray, title_logp: np.ndarray, weight: float) -> np.ndarray:
    """Weighted sum of two heads' log-probabilities (same class order)."""
    if image_logp.shape != title_logp.shape:
        raise ValueError(f"image log-probs {image_logp.shape} and title log-probs {title_logp.shape} differ in shape")
    return weight * image_logp + (1.0 - weight) * title_logp


def choose_weight(
    image_logp: np.ndarray, title_logp: np.ndarray, codes: np.ndarray, weights: Sequence[float] = WEIGHTS
) -> tuple[float, dict[float, float]]:
    """The image weight with the best validation accuracy (ties: the one nearest 0.5), and every weight's accuracy.

    ``codes`` are the validation rows' true class positions in the heads' class order.
    """
    if len(codes) == 0:
        raise ValueError("choose_weight needs at least one validation product")
    accuracy = {float(w): float((fuse(image_logp, title_logp, w).argmax(1) == codes).mean()) for w in weights}
    best = max(accuracy, key=lambda w: (accuracy[w], -abs(w - 0.5)))
    return best, accuracy
