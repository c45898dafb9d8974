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

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from shopintent.intervene.context import FEATURE_NAMES, DecisionContext
from shopintent.intervene.uplift_scoring import FORMAT_VERSION, KIND, RETRAIN, UpliftScorer
from shopintent.persist import begin_save, write_manifest, write_model_json

__all__ = ["FORMAT_VERSION", "KIND", "RETRAIN", "UpliftPolicy"]


class UpliftPolicy(UpliftScorer, BaseEstimator):
    """Scores actions by expected incremental value and explores with known propensities.

    A scikit-learn estimator with no predictor mixin: it acts before it is
    fitted (the prior), and its output is a distribution over the eligible
    actions of one decision, not a label per row. Scoring, exploring and
    ``load`` are :class:`~shopintent.intervene.uplift_scoring.UpliftScorer`'s,
    which the service runs without importing scikit-learn; this class adds
    ``fit`` and ``save``.

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


def _context_fields(context: dict) -> dict:  # type: ignore[type-arg]
    fields = DecisionContext.__dataclass_fields__
    return {k: v for k, v in context.items() if k in fields}
