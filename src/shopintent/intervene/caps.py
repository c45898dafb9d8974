"""Budget, frequency and eligibility limits, checked *before* the policy samples.

Caps restrict the set of actions the policy may sample from, rather than
overriding its choice afterwards: that way the probability logged for the
chosen action is the one it was really drawn with, and OPE stays unbiased.
The ledger is not locked itself; the engine holds one lock around
check-sample-reserve, which is what keeps caps exact under concurrent requests
in one process. :meth:`CapLedger.reserve` is the check-and-charge the engine
calls after sampling; across processes the same contract is kept by
:class:`shopintent.intervene.shared_caps.RedisCapLedger`, where the check and
the charge are one atomic step in Redis and a reservation can fail because
another process took the capacity in between.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from shopintent.intervene.actions import Action
from shopintent.intervene.context import DecisionContext


@dataclass(frozen=True)
class CapConfig:
    """Limits the engine never exceeds.

    ``daily_budget`` caps the summed maximum cost of actions issued per UTC day;
    ``max_per_user_per_day`` and ``max_per_session`` cap interventions (anything
    but nothing); coupons need ``cart_value >= min_cart_value`` and a
    ``risk_score < max_risk_for_coupon``; chat is offered only while
    ``chat_enabled``. A shopper whose latest text intent asks for help (a
    refund, an order, a payment problem: ``DecisionContext.help_intent``) is
    offered no coupon unless ``coupon_on_help_intent``: they asked for an
    answer, not a discount, and a coupon there pays for a purchase the chat
    would have saved anyway.
    """

    daily_budget: float = 500.0
    max_per_user_per_day: int = 3
    max_per_session: int = 1
    min_cart_value: float = 20.0
    max_risk_for_coupon: float = 0.5
    chat_enabled: bool = True
    coupon_on_help_intent: bool = False

    def __post_init__(self) -> None:
        if self.daily_budget < 0:
            raise ValueError(f"daily_budget must be >= 0, got {self.daily_budget}")
        if self.max_per_user_per_day < 0 or self.max_per_session < 0:
            raise ValueError("frequency caps must be >= 0")


@dataclass(frozen=True)
class CapUsage:
    """What a ledger has counted for one decision's day, shopper and session."""

    spent: float = 0.0
    user_day: int = 0
    session: int = 0


def blocked_reason(config: CapConfig, context: DecisionContext, action: Action,
                   usage: CapUsage) -> str | None:
    """Why ``action`` may not be taken for ``context`` given ``usage`` (None when it may).

    One function for every ledger, so the in-process and the shared ledger
    block for the same reasons in the same order.
    """
    if not action.is_intervention:
        return None
    if action.kind == "coupon":
        if context.risk_score >= config.max_risk_for_coupon:
            return "guardrail_risk"
        if context.cart_value < config.min_cart_value:
            return "ineligible_cart_value"
        if context.help_intent and not config.coupon_on_help_intent:
            return "ineligible_help_intent"
    if action.kind == "chat" and not config.chat_enabled:
        return "ineligible_chat_off"
    if usage.session >= config.max_per_session:
        return "cap_session"
    if usage.user_day >= config.max_per_user_per_day:
        return "cap_user_day"
    cost = action.cost(context.cart_value)
    if cost > 0 and usage.spent + cost > config.daily_budget + 1e-9:
        return "cap_budget"
    return None


@dataclass
class CapLedger:
    """What has been spent and shown so far (per day, user and session)."""

    config: CapConfig = field(default_factory=CapConfig)
    spent: dict[date, float] = field(default_factory=lambda: defaultdict(float))
    per_user: dict[tuple[date, str], int] = field(default_factory=lambda: defaultdict(int))
    per_session: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    blocked: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def usage(self, context: DecisionContext) -> CapUsage:
        """The counts that ``context``'s caps are checked against."""
        day = context.at().date()
        return CapUsage(self.spent.get(day, 0.0), self.per_user.get((day, context.user_id), 0),
                        self.per_session.get(context.session_id, 0))

    def reason_blocked(self, context: DecisionContext, action: Action,
                       usage: CapUsage | None = None) -> str | None:
        """Why ``action`` may not be taken for ``context`` now (None when it may)."""
        return blocked_reason(self.config, context, action,
                              self.usage(context) if usage is None else usage)

    def reserve(self, context: DecisionContext, action: Action) -> float | None:
        """Check the caps again and charge them; the budget reserved, or None if a cap closed.

        In one process under the engine's lock nothing can close a cap between
        the check and this call, so it never returns None here; the method
        exists so the engine treats this ledger and the shared one alike.
        """
        if self.reason_blocked(context, action) is not None:
            return None
        return self.commit(context, action)

    def commit(self, context: DecisionContext, action: Action) -> float:
        """Record that ``action`` was issued; returns the budget reserved."""
        if not action.is_intervention:
            return 0.0
        day = context.at().date()
        cost = action.cost(context.cart_value)
        self.spent[day] += cost
        self.per_user[(day, context.user_id)] += 1
        self.per_session[context.session_id] += 1
        return cost
