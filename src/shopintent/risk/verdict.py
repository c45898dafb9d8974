"""A risk verdict: score + top reasons + action (allow / review / hold / block).

The action comes from thresholds tied to the business cost matrix
(:class:`ActionThresholds`), raised by any rule that fired:

- ``hold`` (pause the transaction, notify) at the model's cost-chosen
  threshold: the probability above which holding earns more than passing
  under the matrix (chosen on inner folds, :class:`~shopintent.risk.fraud.FraudModel`),
  or the matrix's break-even for a calibrated score;
- ``review`` (let it through, a person looks) where a review pays for
  itself: ``p · (TP − FN) ≥ review_cost``, the expected loss a review can
  prevent against what one costs (capped at the hold threshold);
- ``block`` (refuse) at ``block_probability`` (default 0.95) or when a
  rule asks for it: the matrix prices only "flag or pass", so refusing
  outright is kept for near-certain cases.

Reasons: firing rules first (a person can act on them), then the features
that pushed the score up most (model contributions in log-odds).

>>> from shopintent.risk.costs import CostMatrix
>>> t = ActionThresholds.from_cost(CostMatrix(5, -25, -5, 0), hold=0.74)
>>> (t.review, t.hold, t.block)
(0.1, 0.74, 0.95)
>>> risk_verdict(0.8, t, {"trustLevel": 1.2, "grandTotal": -0.3}).action
'hold'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from shopintent.risk.costs import CostMatrix
from shopintent.risk.rules import RULE_ACTIONS, RuleHit

__all__ = ["ACTIONS", "ActionThresholds", "Verdict", "risk_verdict"]

#: The actions, mildest first.
ACTIONS: tuple[str, ...] = RULE_ACTIONS


@dataclass(frozen=True, slots=True)
class ActionThresholds:
    """Scores at or above which ``review``, ``hold`` and ``block`` apply (``review ≤ hold ≤ block``)."""

    review: float
    hold: float
    block: float

    def __post_init__(self) -> None:
        if not self.review <= self.hold <= self.block:
            raise ValueError(f"thresholds must satisfy review ≤ hold ≤ block, got "
                             f"{self.review}, {self.hold}, {self.block}")

    @classmethod
    def from_cost(cls, cost: CostMatrix, hold: float | None = None, review_cost: float = 1.0,
                  block_probability: float = 0.95) -> ActionThresholds:
        """Thresholds from a cost matrix: ``hold`` (a model's chosen threshold, else break-even),
        ``review`` where a review of cost ``review_cost`` pays, ``block`` at ``block_probability``."""
        hold = cost.break_even if hold is None else min(float(hold), 1.0)
        gain = cost.tp - cost.fn
        review = min(review_cost / gain, hold) if gain > 0 else hold
        return cls(review=float(review), hold=float(hold), block=float(max(block_probability, hold)))

    def action(self, score: float) -> str:
        """The action a score alone earns."""
        if score >= self.block:
            return "block"
        if score >= self.hold:
            return "hold"
        if score >= self.review:
            return "review"
        return "allow"


@dataclass(frozen=True)
class Verdict:
    """What the risk layer says about one event: score, action, reasons (most important first)."""

    score: float
    action: str
    reasons: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return asdict(self)


def risk_verdict(score: float, thresholds: ActionThresholds, contributions: Mapping[str, float] | None = None,
                 hits: Sequence[RuleHit] = (), values: Mapping[str, Any] | None = None, top: int = 3) -> Verdict:
    """The verdict of one scored event: the stricter of the score's and the rules' actions.

    ``contributions``: per-feature pushes towards risk (log-odds; positive
    raises the score); the ``top`` largest positive ones become reasons,
    quoting the feature's value from ``values`` when given.
    """
    action = thresholds.action(score)
    for hit in hits:
        if ACTIONS.index(hit.action) > ACTIONS.index(action):
            action = hit.action
    reasons = [hit.reason for hit in hits]
    if contributions:
        pushes = sorted(((v, k) for k, v in contributions.items() if v > 0), reverse=True)[:top]
        for value, name in pushes:
            shown = f"{name}={_fmt(values[name])}" if values and name in values else name
            reasons.append(f"{shown} raises risk (+{value:.2f} log-odds)")
    return Verdict(score=float(score), action=action, reasons=reasons, rules=[h.rule for h in hits])


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
