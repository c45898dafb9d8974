"""The out-of-scope rule, shared by the trained classifier and the served scorer.

A text gets its top class unless that class's calibrated probability is under
``threshold_``; then it gets ``oos_label``. The rule lives here, NumPy only, so
that :class:`~shopintent.text.rejection.RejectingClassifier` (scikit-learn,
training) and :class:`~shopintent.text.intent_scoring.IntentScorer` (the
service, no scikit-learn) decide with the same code, not two copies that could drift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class RejectionRule:
    """``predict`` / ``predict_with_confidence`` from ``predict_proba``, ``classes_``, ``threshold_``
    and ``oos_label`` (which the class using it provides)."""

    classes_: np.ndarray
    threshold_: float
    oos_label: str

    def predict_proba(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        raise NotImplementedError

    def _decide(self, proba: np.ndarray) -> list[str]:
        """Top class per row, or ``oos_label`` when its probability is under the threshold."""
        labels = self.classes_[proba.argmax(axis=1)].astype(object)
        labels[proba.max(axis=1) < self.threshold_] = self.oos_label
        return [str(label) for label in labels]

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The label of each text, ``oos_label`` when rejected."""
        return self._decide(self.predict_proba(texts))

    def predict_with_confidence(
        self, texts: Sequence[str], persist: bool = True
    ) -> list[tuple[str, float]]:
        """``(label, confidence)`` per text; see :meth:`decide_with_confidence`."""
        return self.decide_with_confidence(self.predict_proba(texts, persist=persist))

    def decide_with_confidence(self, proba: np.ndarray) -> list[tuple[str, float]]:
        """``(label, confidence)`` per row of calibrated probabilities; a rejected row gets ``oos_label`` and ``1 - top probability``.

        The confidence of a rejection is the calibrated probability mass
        outside the best in-scope class, i.e. how sure the model is that the
        text is none of the classes it knows (or the ``oos`` class's own
        probability when the head learnt ``oos`` as a class and it won).
        """
        labels = self._decide(proba)
        oos_col = np.flatnonzero(self.classes_ == self.oos_label)
        out = []
        for label, row in zip(labels, proba, strict=True):
            p = float(row.max())
            if label != self.oos_label or (oos_col.size and row.argmax() == oos_col[0]):
                out.append((label, p))
            else:
                out.append((label, 1.0 - p))
        return out
