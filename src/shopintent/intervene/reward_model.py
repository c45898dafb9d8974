"""A click model ``q̂(x, a, position)`` for the direct method, DR and policy learning.

Logistic regression on four additive blocks — the candidate action (one-hot),
the position (one-hot), the round's context and the candidate's own action
context (e.g. the user's affinity to that item). Being additive in logit space,
it predicts all ``rounds × actions`` cells from its coefficients directly,
without materialising a row per (round, action). Clicks are rare (≈0.5%), so
the model is strongly regularised; ``cross_fit_predict`` gives out-of-fold
predictions so DR never scores a round with a model that saw its click.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from shopintent.intervene.feedback import LoggedFeedback


class RewardModel:
    """Additive logistic click model over (action, position, context, action context).

    Parameters
    ----------
    C:
        Inverse L2 strength of the logistic regression.
    max_iter:
        Solver iterations.

    Learned: ``intercept_``, ``action_coef_`` (actions,), ``position_coef_``
    (positions,), ``context_coef_`` (d,), ``action_context_coef_`` (k,).
    """

    def __init__(self, C: float = 0.1, max_iter: int = 500) -> None:
        self.C = C
        self.max_iter = max_iter

    @staticmethod
    def _design(feedback: LoggedFeedback, rows: np.ndarray, actions: np.ndarray) -> np.ndarray:
        blocks = [
            np.eye(feedback.n_actions)[actions],
            np.eye(feedback.n_positions)[feedback.position[rows]],
        ]
        if feedback.context is not None:
            blocks.append(feedback.context[rows])
        if feedback.action_context is not None:
            blocks.append(feedback.action_context[rows, actions])
        return np.hstack(blocks)

    def fit(self, feedback: LoggedFeedback, sample_weight: np.ndarray | None = None) -> RewardModel:
        """Fit on the logged (round, action, reward) triples."""
        rows = np.arange(feedback.n_rounds)
        X = self._design(feedback, rows, feedback.action)
        y = (feedback.reward > 0).astype(int)
        A, P = feedback.n_actions, feedback.n_positions
        if y.min() == y.max():
            # One class only (no clicks at all): a constant model is the honest answer.
            self.intercept_ = float(np.log((y.mean() + 1e-6) / (1 - y.mean() + 1e-6)))
            d = X.shape[1] - A - P
            coef = np.zeros(X.shape[1])
        else:
            model = LogisticRegression(C=self.C, max_iter=self.max_iter)
            model.fit(X, y, sample_weight=sample_weight)
            coef = model.coef_[0]
            self.intercept_ = float(model.intercept_[0])
            d = X.shape[1] - A - P
        self.action_coef_ = coef[:A]
        self.position_coef_ = coef[A : A + P]
        n_ctx = 0 if feedback.context is None else feedback.context.shape[1]
        self.context_coef_ = coef[A + P : A + P + n_ctx]
        self.action_context_coef_ = coef[A + P + n_ctx : A + P + d]
        return self

    def predict(self, feedback: LoggedFeedback) -> np.ndarray:
        """Click probability of every action at every round's position: ``(rounds, actions)``."""
        if not hasattr(self, "action_coef_"):
            raise RuntimeError("RewardModel is not fitted; call fit(feedback) first")
        logit = self.intercept_ + self.action_coef_[None, :] + self.position_coef_[feedback.position][:, None]
        if feedback.context is not None and self.context_coef_.size:
            logit = logit + (feedback.context @ self.context_coef_)[:, None]
        if feedback.action_context is not None and self.action_context_coef_.size:
            logit = logit + feedback.action_context @ self.action_context_coef_
        return 1.0 / (1.0 + np.exp(-logit))

    def to_dict(self) -> dict[str, object]:
        """Parameters and coefficients as plain lists (for model.json)."""
        return {
            "C": self.C, "max_iter": self.max_iter, "intercept": self.intercept_,
            "action_coef": self.action_coef_.tolist(), "position_coef": self.position_coef_.tolist(),
            "context_coef": self.context_coef_.tolist(),
            "action_context_coef": self.action_context_coef_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> RewardModel:
        """Rebuild a fitted model from :meth:`to_dict` output."""
        model = cls(C=float(data["C"]), max_iter=int(data["max_iter"]))  # type: ignore[arg-type]
        model.intercept_ = float(data["intercept"])  # type: ignore[arg-type]
        for name in ("action_coef", "position_coef", "context_coef", "action_context_coef"):
            setattr(model, name + "_", np.asarray(data[name], dtype=float))
        return model


def cross_fit_predict(
    feedback: LoggedFeedback, n_folds: int = 5, C: float = 0.1, random_state: int = 0
) -> np.ndarray:
    """Out-of-fold ``q̂`` for every round: each fold is scored by a model fitted on the others."""
    rng = np.random.default_rng(random_state)
    fold = rng.permutation(feedback.n_rounds) % n_folds
    out = np.empty((feedback.n_rounds, feedback.n_actions))
    for k in range(n_folds):
        held = fold == k
        model = RewardModel(C=C).fit(feedback.subset(~held))
        out[held] = model.predict(feedback.subset(held))
    return out
