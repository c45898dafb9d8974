"""Scoring and exploring with an uplift policy, without scikit-learn: what the service runs.

Why a class of its own: :class:`~shopintent.intervene.policy.UpliftPolicy` is a
scikit-learn estimator (``get_params``, ``clone``) because it is fitted on the
decision log, and importing ``sklearn.base`` (with the SciPy parts it pulls in)
costs about half a CPU second of every service start. Deciding needs none of
it: the prior rules, the learned coefficients and the softmax are plain NumPy.
:class:`UpliftScorer` holds the same parameters and the same saved form
(``model.json``) and does everything but ``fit``; ``UpliftPolicy`` adds ``fit``
and ``save`` on top of it, so both give the same probabilities by construction
and a policy saved by one loads into the other (``tests/intervene/test_uplift_scoring.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from shopintent.intervene.actions import Action
from shopintent.intervene.context import DecisionContext
from shopintent.persist import read_model_json

KIND = "UpliftPolicy"
FORMAT_VERSION = 1
#: How a refused policy is replaced (there is no CLI for it: it learns from the engine's own log).
RETRAIN = "UpliftPolicy().fit(read_decisions(<decision log>)).save(<folder>)"


class UpliftScorer:
    """Scores actions by expected incremental value and explores with known propensities.

    The parameters are :class:`~shopintent.intervene.policy.UpliftPolicy`'s (documented
    there); ``coef_`` and ``reward_scale_`` are what its ``fit`` learned or :meth:`load` read.

    >>> from shopintent.intervene.actions import DEFAULT_ACTIONS
    >>> scorer = UpliftScorer(epsilon=0.2)
    >>> context = DecisionContext(user_id="u", session_id="s", purchase_probability=0.4,
    ...                           abandonment_risk=0.7, cart_value=80.0)
    >>> p = scorer.probabilities(context, DEFAULT_ACTIONS)
    >>> round(float(p.sum()), 6), bool(p.min() >= 0.2 / len(DEFAULT_ACTIONS))
    (1.0, True)
    """

    def __init__(
        self,
        temperature: float = 0.02,
        epsilon: float = 0.1,
        margin: float = 0.3,
        reference_order_value: float = 100.0,
        ridge: float = 1.0,
        min_rows: int = 50,
        version: str = "uplift-prior-1",
    ) -> None:
        self.temperature = temperature
        self.epsilon = epsilon
        self.margin = margin
        self.reference_order_value = reference_order_value
        self.ridge = ridge
        self.min_rows = min_rows
        self.version = version

    #: Per-action outcome coefficients once fitted; empty: the prior rules. A class default (never
    #: mutated: ``fit`` and ``load`` assign a new dict) so ``__init__`` only stores parameters.
    coef_: dict[str, list[float]] = {}  # noqa: RUF012

    def _check_params(self) -> None:
        """Checked where the parameters are used (``__init__`` only stores them, as scikit-learn asks)."""
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 < self.epsilon <= 1.0:
            raise ValueError(
                f"epsilon must be in (0, 1] so every eligible action keeps a propensity; got {self.epsilon}"
            )

    def order_value(self, context: DecisionContext) -> float:
        """The order at stake: the cart, or the reference value when it is empty."""
        return context.cart_value if context.cart_value > 0 else self.reference_order_value

    def prior_uplift(self, context: DecisionContext, action: Action) -> float:
        """The rules: how much ``action`` raises the purchase probability, before any learning."""
        p, r = context.purchase_probability, context.abandonment_risk
        persuadable = 4.0 * p * (1.0 - p)
        if action.kind == "coupon":
            return 0.6 * math.sqrt(action.discount) * r * persuadable
        if action.kind == "recommendation":
            return 0.03 * (1.0 - p)
        if action.kind == "chat":
            return 0.05 if context.help_intent else 0.005
        return 0.0

    def score(self, context: DecisionContext, action: Action) -> float:
        """Expected incremental value of ``action`` as a fraction of the order value."""
        value = self.order_value(context)
        if action.name in self.coef_ and "nothing" in self.coef_:
            x = np.asarray(context.features())
            gain = float(x @ np.asarray(self.coef_[action.name]) - x @ np.asarray(self.coef_["nothing"]))
            # Logged rewards are net of redeemed discounts; a fixed cost is paid regardless.
            return (gain * self.reward_scale_ - action.fixed_cost) / value
        uplift = self.prior_uplift(context, action)
        p = context.purchase_probability
        expected_cost = action.discount * self.order_value(context) * min(p + uplift, 1.0) + action.fixed_cost
        return (self.margin * value * uplift - expected_cost) / value

    def probabilities(self, context: DecisionContext, actions: Sequence[Action]) -> np.ndarray:
        """``π(a | context)`` over ``actions`` (the eligible ones); sums to 1."""
        self._check_params()
        if not actions:
            raise ValueError("no eligible action: the catalogue must keep `nothing` eligible")
        scores = np.array([self.score(context, a) for a in actions]) / self.temperature
        scores -= scores.max()
        soft = np.exp(scores)
        soft /= soft.sum()
        return (1.0 - self.epsilon) * soft + self.epsilon / len(actions)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        """An instance from a policy's ``model.json`` as :func:`~shopintent.persist.read_model_json` read it."""
        scorer = cls(**payload["parameters"], version=payload["version"])
        scorer.coef_ = payload["coef"]
        scorer.reward_scale_ = payload["reward_scale"]
        return scorer

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a policy written by ``UpliftPolicy.save`` (its manifest verified first)."""
        return cls.from_payload(read_model_json(path, KIND, FORMAT_VERSION, retrain=RETRAIN))
