"""A synthetic shop with known causal effects, to check the engine and OPE against truth.

Real logs never reveal what *would* have happened under another action, so
correctness claims — IPS is unbiased, the learned uplift policy finds the
persuadable shoppers — are checked here, where every context's expected reward
under every action is known exactly. Contexts are drawn to look like the
engine's inputs; the true uplift is heterogeneous on purpose (coupons help only
hesitant shoppers with a cart at risk, chat only shoppers asking for help), so
a policy that ignores context loses to one that reads it.
"""

from __future__ import annotations

import numpy as np

from shopintent.intervene.actions import DEFAULT_ACTIONS, Action
from shopintent.intervene.context import DecisionContext


class UpliftEnvironment:
    """Draws contexts and rewards; ``expected_reward`` gives the truth per action.

    Reward of a round = margin × cart value on purchase, minus the discount if
    a coupon was redeemed, minus any fixed cost (net value, as the engine's
    outcomes should be logged).
    """

    def __init__(self, margin: float = 0.3, random_state: int = 0) -> None:
        self.margin = margin
        self.rng = np.random.default_rng(random_state)

    def contexts(self, n: int, day: str = "2026-01-05") -> list[DecisionContext]:
        """``n`` sessions: purchase probabilities, risks, carts, intents, a few risky shoppers."""
        from datetime import datetime, timedelta, timezone

        start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        p = self.rng.beta(1.5, 5.0, n)
        has_cart = self.rng.random(n) < 0.6
        cart = np.where(has_cart, self.rng.lognormal(4.3, 0.6, n), 0.0)
        risk = np.where(has_cart, np.clip(1.0 - p + self.rng.normal(0, 0.1, n), 0, 1), 0.0)
        intents = self.rng.choice(["browse", "question", "none"], n, p=[0.5, 0.2, 0.3])
        risky = np.where(self.rng.random(n) < 0.05, self.rng.uniform(0.6, 1.0, n), 0.0)
        return [
            DecisionContext(
                user_id=f"u{i}", session_id=f"s{i}", purchase_probability=float(p[i]),
                abandonment_risk=float(risk[i]), cart_value=float(cart[i]),
                intent=None if intents[i] == "none" else str(intents[i]), risk_score=float(risky[i]),
                timestamp=start + timedelta(seconds=int(i)),
            )
            for i in range(n)
        ]

    @staticmethod
    def true_uplift(context: DecisionContext, action: Action) -> float:
        """The causal lift of purchase probability (known only here)."""
        p, r = context.purchase_probability, context.abandonment_risk
        if action.kind == "coupon":
            hesitant = 1.0 if 0.05 < p < 0.35 and r > 0.6 else 0.0
            return hesitant * 2.0 * action.discount
        if action.kind == "chat":
            return 0.08 if context.intent == "question" else 0.0
        if action.kind == "recommendation":
            return 0.01
        return 0.0

    def expected_reward(self, context: DecisionContext, action: Action) -> float:
        """Expected net value of taking ``action`` in ``context``."""
        value = context.cart_value if context.cart_value > 0 else 100.0
        buy = min(context.purchase_probability + self.true_uplift(context, action), 1.0)
        return buy * (self.margin * value - action.discount * value) - action.fixed_cost

    def draw_reward(self, context: DecisionContext, action: Action) -> float:
        """One realised net value."""
        value = context.cart_value if context.cart_value > 0 else 100.0
        buy = self.rng.random() < min(context.purchase_probability + self.true_uplift(context, action), 1.0)
        return float(buy) * (self.margin * value - action.discount * value) - action.fixed_cost

    def policy_value(
        self, contexts: list[DecisionContext], probabilities: np.ndarray,
        actions: tuple[Action, ...] = DEFAULT_ACTIONS,
    ) -> float:
        """True expected reward per round of a policy given as ``(rounds, actions)`` probabilities."""
        truth = np.array([[self.expected_reward(c, a) for a in actions] for c in contexts])
        return float((truth * probabilities).sum(axis=1).mean())
