"""The interventions the engine can choose, and what each costs.

A coupon's cost is a share of the cart value, paid only if the shopper buys
(the engine reserves the full amount against the daily budget when it issues
one, so the budget holds even if every coupon is redeemed). A chat assist costs
agent time; a recommendation costs nothing but attention, which the frequency
caps protect.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Action:
    """One intervention: ``kind`` is none, coupon, recommendation or chat."""

    name: str
    kind: str
    discount: float = 0.0
    fixed_cost: float = 0.0

    def cost(self, cart_value: float) -> float:
        """The most this action can cost on a cart of ``cart_value``."""
        return self.discount * max(cart_value, 0.0) + self.fixed_cost

    @property
    def is_intervention(self) -> bool:
        """Whether the shopper sees anything (counts towards frequency caps)."""
        return self.kind != "none"


NOTHING = Action("nothing", "none")

#: The default catalogue: nothing, three coupon levels, a recommendation, a chat assist.
DEFAULT_ACTIONS: tuple[Action, ...] = (
    NOTHING,
    Action("coupon_5", "coupon", discount=0.05),
    Action("coupon_10", "coupon", discount=0.10),
    Action("coupon_15", "coupon", discount=0.15),
    Action("recommend", "recommendation"),
    Action("chat_assist", "chat", fixed_cost=0.5),
)
