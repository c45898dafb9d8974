"""A bound on how unequally the engine offers interventions to two named groups of shoppers.

Why in the engine: an audit after the fact can show that, say, returning
shoppers get twice the coupons new ones get; a shop that decides this must
not exceed a ratio needs the engine itself to hold the bound while it decides.
:class:`GroupRateConstraint` counts decisions and interventions per group as
they are made; an intervention is blocked (reason ``group_rate_ratio``) for a
shopper of group A when issuing it would push A's intervention rate above
``max_ratio`` × group B's rate (and the same the other way round). Until both
groups have ``min_decisions`` decisions it blocks nothing, so a cold start is
not frozen by two or three early draws. Shoppers outside the two groups are
never blocked and not counted.

The same object scores a *logged* policy offline: :meth:`record` takes the
probability of an intervention instead of 0/1, so off-policy evaluation can
replay the constraint over a decision log
(:func:`shopintent.fairness.incentive.constrained_action_dist`).

>>> from shopintent.intervene.actions import DEFAULT_ACTIONS
>>> from shopintent.intervene.context import DecisionContext
>>> c = GroupRateConstraint({"a1": "new", "b1": "returning"}, ("new", "returning"), max_ratio=1.5,
...                         min_decisions=2)
>>> for user, offered in (("a1", 0.0), ("a1", 0.0), ("b1", 1.0), ("b1", 1.0)):
...     c.record(user, offered)
>>> coupon = DEFAULT_ACTIONS[1]
>>> c.reason_blocked(DecisionContext("b1", "s", 0.5, 0.5), coupon), c.reason_blocked(DecisionContext("a1", "s", 0.5, 0.5), coupon)
('group_rate_ratio', None)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shopintent.intervene.actions import Action
from shopintent.intervene.context import DecisionContext

REASON = "group_rate_ratio"


@dataclass
class GroupRateConstraint:
    """Bounded ratio of intervention rates between two named groups (see the module docstring)."""

    group_of: Mapping[str, str]
    groups: tuple[str, str]
    max_ratio: float = 1.25
    min_decisions: int = 50
    decisions: dict[str, float] = field(default_factory=dict)
    offers: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.groups) != 2 or self.groups[0] == self.groups[1]:
            raise ValueError(f"name two different groups, got {self.groups!r}")
        if not self.max_ratio >= 1.0:
            raise ValueError(f"max_ratio must be at least 1 (a ratio between two rates), got {self.max_ratio}")
        missing = [g for g in self.groups if g not in set(self.group_of.values())]
        if missing:
            raise ValueError(f"group(s) {', '.join(missing)} have no shopper in `group_of`")
        for g in self.groups:
            self.decisions.setdefault(g, 0.0)
            self.offers.setdefault(g, 0.0)

    def rate(self, group: str) -> float:
        """Interventions per decision of ``group`` so far (0 before any decision)."""
        n = self.decisions[group]
        return self.offers[group] / n if n else 0.0

    def reason_blocked(self, context: DecisionContext, action: Action) -> str | None:
        """``group_rate_ratio`` when ``action`` would push the shopper's group past the bound, else None."""
        if not action.is_intervention:
            return None
        group = self.group_of.get(context.user_id)
        if group not in self.groups:
            return None
        other = self.groups[1] if group == self.groups[0] else self.groups[0]
        if min(self.decisions.values()) < self.min_decisions:
            return None
        rate_if_offered = (self.offers[group] + 1.0) / (self.decisions[group] + 1.0)
        return REASON if rate_if_offered > self.max_ratio * self.rate(other) else None

    def record(self, user_id: str, offered: float) -> None:
        """Count one decision for ``user_id``'s group; ``offered``: 1/0, or P(intervention) offline."""
        group = self.group_of.get(user_id)
        if group in self.groups:
            self.decisions[group] += 1.0
            self.offers[group] += float(offered)


class DecisionConstraint(Protocol):
    """What the engine asks of a constraint: a block reason per action, and each decision made."""

    def reason_blocked(self, context: DecisionContext, action: Action) -> str | None: ...

    def record(self, user_id: str, offered: float) -> None: ...
