"""Uplift-style intervention policy with exploration whose propensities are exact.

The policy scores each eligible action by the *incremental* value it is
expected to cause — margin × order value × uplift − expected cost — so it acts
on persuadable shoppers (middling purchase probability, high abandonment risk)
and leaves sure buyers alone: a coupon to someone who would buy anyway only
costs money. Scores are in units of the order value so one temperature fits
every basket.

Uplift comes from a transparent prior (the rules below) until the policy is
fitted on the engine's own decision log: ``fit`` learns one outcome model per
action by inverse-propensity-weighted ridge regression (a T-learner corrected
for the logging policy's targeting) and uses ``μ_a(x) − μ_nothing(x)``.

Exploration: ``π(a|x) = (1 − ε)·softmax(score/τ) + ε/k`` over the ``k``
eligible actions, so every eligible action has probability ≥ ε/k and the
logged propensity is exactly the probability used to sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from shopintent.intervene.actions import Action
from shopintent.intervene.context import FEATURE_NAMES, DecisionContext
from shopintent.persist import begin_save, read_model_json, write_manifest, write_model_json

KIND = "UpliftPolicy"
FORMAT_VERSION = 1
#: How a refused policy is replaced (there is no CLI for it: it learns from the engine's own log).
RETRAIN = "UpliftPolicy().fit(read_decisions(<decision log>)).save(<folder>)"


class UpliftPolicy(BaseEstimator):
    """Scores actions by expected incremental value and explores with known propensities.

    A scikit-learn estimator with no predictor mixin: it acts before it is
    fitted (the prior), and its output is a distribution over the eligible
    actions of one decision, not a label per row.

    Parameters
    ----------
    temperature:
        Softmax temperature on scores (fractions of the order value).
    epsilon:
        Share of uniform exploration over eligible actions.
    margin:
        Gross margin on an order (value of one extra purchase, as a fraction).
    reference_order_value:
        Order value assumed when the cart is empty.
    ridge:
        L2 strength of the per-action outcome models (``fit``).
    min_rows:
        Fewest logged rows an action needs for a learned model (else its prior is kept).
    version:
        Policy version written into every decision.

    Learned by ``fit``: ``coef_`` (action → coefficients over
    :data:`~shopintent.intervene.context.FEATURE_NAMES`), ``reward_scale_``,
    ``n_rows_``.

    Examples
    --------
    Before ``fit`` the prior acts; exploration keeps every eligible action's propensity above ``ε/k``:

    >>> from shopintent.intervene.actions import DEFAULT_ACTIONS
    >>> policy = UpliftPolicy(epsilon=0.2)
    >>> context = DecisionContext(user_id="u", session_id="s", purchase_probability=0.4,
    ...                           abandonment_risk=0.7, cart_value=80.0)
    >>> p = policy.probabilities(context, DEFAULT_ACTIONS)
    >>> round(float(p.sum()), 6), bool(p.min() >= 0.2 / len(DEFAULT_ACTIONS))
    (1.0, True)

    Fitted on the decision log of an engine replayed over real Taobao events:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from shopintent.intervene import DecisionEngine, read_decisions
    >>> from shopintent.intervene.replay import replay_events
    >>> from shopintent.samples import taobao_sessions
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     engine = DecisionEngine(policy=UpliftPolicy(epsilon=1.0), log_path=Path(tmp) / "log.jsonl",
    ...                             random_state=0)
    ...     _ = replay_events(taobao_sessions(5000), engine)
    ...     engine.close()
    ...     fitted = UpliftPolicy(min_rows=5).fit(read_decisions(Path(tmp) / "log.jsonl"))
    >>> sum(fitted.n_rows_.values()) > 0
    True
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

    # -- scores ---------------------------------------------------------------------------
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

    # -- learning from the decision log ---------------------------------------------------
    def fit(self, decisions: pd.DataFrame) -> UpliftPolicy:
        """Learn per-action outcome models from a decision log joined with outcomes.

        ``decisions`` needs ``action``, ``propensity``, ``reward`` and ``context``
        (the dict the engine logged); ``reward`` is the net value realised (margin
        earned minus any discount redeemed), as outcomes should be recorded. Rows are weighted by 1/propensity so the
        models describe every context, not only those the logging policy favoured.
        """
        self._check_params()
        missing = [c for c in ("action", "propensity", "reward", "context") if c not in decisions.columns]
        if missing:
            raise ValueError(f"decision log lacks column(s) {', '.join(missing)}")
        X = np.array([DecisionContext.from_dict(_context_fields(c)).features() for c in decisions["context"]])
        y = decisions["reward"].to_numpy(dtype=float)
        w = 1.0 / decisions["propensity"].to_numpy(dtype=float)
        self.reward_scale_ = float(np.abs(y).mean()) or 1.0
        self.coef_ = {}
        self.n_rows_ = {}
        for action, rows in decisions.groupby("action").indices.items():
            self.n_rows_[str(action)] = len(rows)
            if len(rows) < self.min_rows:
                continue
            Xa, ya, wa = X[rows], y[rows] / self.reward_scale_, w[rows] / w[rows].mean()
            gram = Xa.T @ (Xa * wa[:, None]) + self.ridge * np.eye(X.shape[1])
            self.coef_[str(action)] = np.linalg.solve(gram, Xa.T @ (wa * ya)).tolist()
        if "nothing" not in self.coef_:
            self.coef_ = {}  # uplift needs the control arm; keep the prior
        return self

    def save(self, path: Path, data_checksum: str = "", metrics: dict[str, float] | None = None) -> Path:
        """Write ``path/model.json`` (version, parameters, data checksum, metrics, coefficients) and its manifest."""
        path = begin_save(path)
        write_model_json(
            path, KIND, FORMAT_VERSION,
            {k: v for k, v in self.get_params(deep=False).items() if k != "version"},
            version=self.version,
            feature_names=list(FEATURE_NAMES),
            coef=self.coef_,
            reward_scale=getattr(self, "reward_scale_", 1.0),
            data_checksum=data_checksum,
            metrics=metrics or {},
        )
        write_manifest(path)
        return path

    @classmethod
    def load(cls, path: Path) -> UpliftPolicy:
        """Read a policy written by :meth:`save` (its manifest verified first)."""
        payload = read_model_json(path, KIND, FORMAT_VERSION, retrain=RETRAIN)
        policy = cls(**payload["parameters"], version=payload["version"])
        policy.coef_ = payload["coef"]
        policy.reward_scale_ = payload["reward_scale"]
        return policy


def _context_fields(context: dict) -> dict:  # type: ignore[type-arg]
    fields = DecisionContext.__dataclass_fields__
    return {k: v for k, v in context.items() if k in fields}
