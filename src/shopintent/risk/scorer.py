"""One event in, one risk verdict out: the scorers the service and the CLI call.

:class:`ClickRiskScorer` keeps the per-key streaming state of
:mod:`shopintent.risk.click_features` (the code that built the training
features), scores each click with the click model once its features are final
(the delayed verdict: at most ``horizon_s`` after the click) and returns
score + reasons + action. :class:`TransactionScorer` scores payment-like
records at once with the fraud model. Both evaluate the shop's rules beside
the model and never raise on a malformed event: it comes back as a
:class:`Rejection` naming the field, and the rest of the batch is scored.

Click scores are ``1 − P(download)``. The label is a proxy (a click that
did not convert is not proven fraud, and 99.8 % of clicks do not convert), so
the transaction cost matrix does not price click actions; click thresholds
are shares of traffic instead (:func:`click_thresholds`: by default review
the riskiest 5 %, hold 1 %, block 0.1 % of the training clicks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shopintent.risk.click_features import FEATURE_NAMES, ClickFeatureState
from shopintent.risk.costs import CostMatrix
from shopintent.risk.rules import Rule, evaluate_rules
from shopintent.risk.verdict import ActionThresholds, Verdict, risk_verdict

if TYPE_CHECKING:
    from shopintent.risk.fraud import FraudModel
    from shopintent.risk.fraud_scoring import FraudScorer

__all__ = ["ClickRiskScorer", "Rejection", "TransactionScorer", "click_thresholds", "transaction_thresholds"]

#: A symmetric matrix (a caught fraud earns what a false alarm costs) for models trained without one.
SYMMETRIC_COST = CostMatrix(1.0, -1.0, -1.0, 0.0)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event that could not be scored: its position in the batch and why."""

    index: int
    reason: str


def transaction_thresholds(model: FraudModel | FraudScorer, review_cost: float = 1.0,
                           block_probability: float = 0.95) -> ActionThresholds:
    """Actions for a transaction model: its cost matrix, hold at its threshold chosen on inner folds."""
    cost = model.cost_matrix() or SYMMETRIC_COST
    hold = model.threshold_ if math.isfinite(model.threshold_) else 1.0
    return ActionThresholds.from_cost(cost, hold=hold, review_cost=review_cost,
                                      block_probability=max(block_probability, hold))


def click_thresholds(train_scores: np.ndarray, review_share: float = 0.05, hold_share: float = 0.01,
                     block_share: float = 0.001) -> ActionThresholds:
    """Click actions as shares of traffic: the scores above which that share of training clicks fall."""
    s = np.asarray(train_scores, dtype=float)
    q = np.quantile(s, [1 - review_share, 1 - hold_share, 1 - block_share])
    return ActionThresholds(review=float(q[0]), hold=float(q[1]), block=float(q[2]))


class TransactionScorer:
    """Scores payment-like records (the fraud model's features as fields) with rules beside the model."""

    def __init__(self, model: FraudModel | FraudScorer, rules: Sequence[Rule] = (),
                 thresholds: ActionThresholds | None = None, top: int = 3) -> None:
        self.model = model
        self.rules = list(rules)
        self.thresholds = thresholds or transaction_thresholds(model)
        self.top = top

    def check(self, record: Mapping[str, Any]) -> str | None:
        """Why ``record`` cannot be scored (``None``: it can), naming the field."""
        if not isinstance(record, Mapping):
            return f"expected an object of fields, got {type(record).__name__}"
        for name in self.model.feature_names_:
            value = record.get(name)
            if value is None:
                return f"`{name}` is missing"
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                return f"`{name}` {value!r} is not a number"
            if not math.isfinite(float(value)):
                return f"`{name}` {value!r} is not a finite number"
        return None

    def score(self, record: Mapping[str, Any]) -> Verdict:
        """The verdict of one valid record (raises ``ValueError`` naming the field otherwise)."""
        problem = self.check(record)
        if problem:
            raise ValueError(problem)
        values = np.array([float(record[n]) for n in self.model.feature_names_])
        p = self.model.proba_one(values)
        hits = evaluate_rules(self.rules, record)
        contributions = None
        if self.thresholds.action(p) != "allow" or hits:
            contributions = self.model.contributions_one(values)
        return risk_verdict(p, self.thresholds, contributions, hits, record, self.top)

    def score_batch(self, records: Iterable[Any]) -> tuple[list[tuple[int, Verdict]], list[Rejection]]:
        """Score every valid record; the malformed ones come back as rejections with their reason."""
        verdicts, rejected = [], []
        for i, record in enumerate(records):
            problem = self.check(record)
            if problem:
                rejected.append(Rejection(i, problem))
            else:
                verdicts.append((i, self.score(record)))
        return verdicts, rejected


class ClickRiskScorer:
    """Scores a click stream: per-key streaming state, the click model, rules; verdicts at most
    ``horizon_s`` after each click (when its next-click gaps are known)."""

    def __init__(self, model: FraudModel, thresholds: ActionThresholds, rules: Sequence[Rule] = (),
                 horizon_s: float = 600.0, top: int = 3) -> None:
        missing = [c for c in FEATURE_NAMES if c not in model.feature_names_]
        if missing or len(model.feature_names_) != len(FEATURE_NAMES):
            raise ValueError(f"the model was not trained on the click features (lacks {missing})")
        self.model = model
        self.thresholds = thresholds
        self.rules = list(rules)
        self.state = ClickFeatureState(horizon_s)
        self.top = top
        self._clicks: dict[int, Mapping[str, Any]] = {}

    def push(self, index: int, click: Mapping[str, Any], t: float, expire: bool = True) -> list[tuple[int, Verdict]]:
        """Add one click; return the verdicts that became final (raises ``ValueError`` on a bad click).

        ``expire=False``: clicks whose horizon passed wait for :meth:`advance` (the service's timer).
        """
        ready = self.state.push(index, click, t, expire)
        self._clicks[index] = click
        return [(i, self._verdict(i, row)) for i, row in ready]

    def push_batch(self, clicks: Iterable[tuple[int, Any, Any]]) -> tuple[list[tuple[int, Verdict]], list[Rejection]]:
        """Push ``(index, click, t)`` triples; malformed ones are rejected with a reason, the rest pushed."""
        verdicts, rejected = [], []
        for index, click, t in clicks:
            problem = (f"expected an object of fields, got {type(click).__name__}"
                       if not isinstance(click, Mapping) else self.state.check(click, t))
            if problem:
                rejected.append(Rejection(index, problem))
                continue
            verdicts.extend(self.push(index, click, t))
        return verdicts, rejected

    def advance(self, now: float) -> list[tuple[int, Verdict]]:
        """Move the clock without a click (a timer): the verdicts whose horizon has passed."""
        return [(i, self._verdict(i, row)) for i, row in self.state.advance(now)]

    def flush(self) -> list[tuple[int, Verdict]]:
        """Every verdict still waiting (end of a replay)."""
        return [(i, self._verdict(i, row)) for i, row in self.state.flush()]

    def _verdict(self, index: int, row: Mapping[str, float]) -> Verdict:
        click = self._clicks.pop(index, {})
        values = np.array([row[name] for name in self.model.feature_names_])
        score = 1.0 - self.model.proba_one(values)
        merged = {**row, **click}
        hits = evaluate_rules(self.rules, merged)
        contributions = None
        if self.thresholds.action(score) != "allow" or hits:
            # towards risk = away from a download
            contributions = {k: -v for k, v in self.model.contributions_one(values).items()}
        return risk_verdict(score, self.thresholds, contributions, hits, merged, self.top)
