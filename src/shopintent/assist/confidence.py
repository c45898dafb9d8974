"""Calibrated confidence that the top answer is right, from the top score and its margin.

Why: raw scores mean different things per scorer (BM25 is unbounded, cosine
is not a probability), and the hand-over decision needs a probability. A
logistic regression on ``(top score, top - second)`` is fitted on held-out
questions whose right answer is known (the 1-of-100 protocol), i.e. Platt
scaling with a margin feature.

>>> import numpy as np
>>> rows = np.array([[0.9, 0.1, 0.2], [0.1, 0.8, 0.3], [0.95, 0.2, 0.1], [0.2, 0.3, 0.9]])
>>> c = Confidence().fit(rows)
>>> bool(c.predict(np.array([[0.9, 0.1, 0.0]]))[0] > c.predict(np.array([[0.3, 0.29, 0.0]]))[0])
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopintent.assist.protocol import ranks


def features(scores: np.ndarray) -> np.ndarray:
    """``(n, 2)``: each row's best score and its lead over the second best."""
    if scores.shape[1] == 1:
        return np.column_stack([scores[:, 0], np.zeros(len(scores))]).astype(np.float64)
    top2 = -np.partition(-scores, 1, axis=1)[:, :2]
    return np.column_stack([top2[:, 0], top2[:, 0] - top2[:, 1]]).astype(np.float64)


class Confidence:
    """Logistic map from :func:`features` to P(top answer is the right one)."""

    def __init__(self) -> None:
        self.coef_ = np.zeros(2)
        self.intercept_ = 0.0
        self.mean_ = np.zeros(2)
        self.scale_ = np.ones(2)

    def fit(self, candidate_scores: np.ndarray) -> Confidence:
        """Fit on ``(n, candidates)`` scores whose column 0 is the right answer."""
        from sklearn.linear_model import LogisticRegression

        x = features(candidate_scores)
        y = (ranks(candidate_scores) == 1).astype(int)
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        if y.min() == y.max():  # all right or all wrong: the observed rate is the best estimate
            rate = float(np.clip(y.mean(), 0.01, 0.99))
            self.coef_ = np.zeros(2)
            self.intercept_ = float(np.log(rate / (1 - rate)))
            return self
        model = LogisticRegression(C=1.0).fit((x - self.mean_) / self.scale_, y)
        self.coef_ = model.coef_[0].astype(float)
        self.intercept_ = float(model.intercept_[0])
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """P(right) for each row of candidate scores (any number of columns)."""
        z = ((features(scores) - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))

    def state(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        return {"coef": self.coef_.tolist(), "intercept": self.intercept_,
                "mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Confidence:
        """Rebuild from :meth:`state`."""
        c = cls()
        c.coef_ = np.asarray(state["coef"], dtype=float)
        c.intercept_ = float(state["intercept"])
        c.mean_ = np.asarray(state["mean"], dtype=float)
        c.scale_ = np.asarray(state["scale"], dtype=float)
        return c
