"""Budget, frequency and eligibility limits, checked *before* the policy samples.

Caps restrict the set of actions the policy may sample from, rather than
overriding its choice afterwards: that way the probability logged for the
chosen action is the one it was really drawn with, and OPE stays unbiased.
The ledger is not locked itself; the engine holds one lock around
check-sample-commit, which is what keeps caps exact under concurrent requests.
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


@dataclass
class CapLedger:
    """What has been spent and shown so far (per day, user and session)."""

    config: CapConfig = field(default_factory=CapConfig)
    spent: dict[date, float] = field(default_factory=lambda: defaultdict(float))
    per_user: dict[tuple[date, str], int] = field(default_factory=lambda: defaultdict(int))
    per_session: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    blocked: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def reason_blocked(self, context: DecisionContext, action: Action) -> str | None:
        """Why ``action`` may not be taken for ``context`` now (None when it may)."""
        if not action.is_intervention:
            return None
        cfg = self.config
        day = context.at().date()
        if action.kind == "coupon":
            if context.risk_score >= cfg.max_risk_for_coupon:
                return "guardrail_risk"
            if context.cart_value < cfg.min_cart_value:
                return "ineligible_cart_value"
            if context.help_intent and not cfg.coupon_on_help_intent:
                return "ineligible_help_intent"
        if action.kind == "chat" and not cfg.chat_enabled:
            return "ineligible_chat_off"
        if self.per_session.get(context.session_id, 0) >= cfg.max_per_session:
            return "cap_session"
        if self.per_user.get((day, context.user_id), 0) >= cfg.max_per_user_per_day:
            return "cap_user_day"
        cost = action.cost(context.cart_value)
        if cost > 0 and self.spent.get(day, 0.0) + cost > cfg.daily_budget + 1e-9:
            return "cap_budget"
        return None

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
