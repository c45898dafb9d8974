"""What the engine knows about a session when it decides: one validated record.

The HTTP service, the replay and the tests all build a :class:`DecisionContext`;
it checks its own ranges so a bad request fails with the field named, and it
turns itself into the small numeric feature vector the learned policy uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

#: Text intents under which a chat assist is likely to help: the service intents of the
#: default shop-intent model (``shopintent.text``: Bitext customer-service labels) that ask a
#: person for help with an order, a payment or a problem, plus generic names other models use.
#: Buying (``place_order``), reviews, newsletters and account housekeeping are not help intents.
HELP_INTENTS: frozenset[str] = frozenset(
    {"cancel_order", "change_order", "change_shipping_address", "check_cancellation_fee",
     "check_invoice", "check_payment_methods", "check_refund_policy", "complaint",
     "contact_customer_service", "contact_human_agent", "delivery_options", "delivery_period",
     "get_invoice", "get_refund", "payment_issue", "recover_password", "registration_problems",
     "track_order", "track_refund",
     "question", "product_question", "shipping", "delivery", "payment", "refund", "return", "size"}
)

#: Names of :meth:`DecisionContext.features`, in order.
FEATURE_NAMES: tuple[str, ...] = (
    "bias", "purchase_probability", "abandonment_risk", "persuadable", "risk_x_persuadable",
    "log_cart_value", "help_intent", "risk_score",
)


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """A session's state at decision time.

    ``purchase_probability`` and ``abandonment_risk`` come from a session scorer;
    ``risk_score`` (0..1) from the risk package (or the scorer); ``intent`` is
    the text intent of what the shopper last typed, if anything.
    """

    user_id: str
    session_id: str
    purchase_probability: float
    abandonment_risk: float
    cart_value: float = 0.0
    intent: str | None = None
    segment: str = "default"
    risk_score: float = 0.0
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("purchase_probability", "abandonment_risk", "risk_score"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"`{name}` {value!r} must be a number in [0, 1]")
        if not (isinstance(self.cart_value, int | float) and math.isfinite(self.cart_value)
                and self.cart_value >= 0):
            raise ValueError(f"`cart_value` {self.cart_value!r} must be a finite number >= 0")
        for name in ("user_id", "session_id"):
            if not getattr(self, name):
                raise ValueError(f"`{name}` is empty; every decision must name its shopper and session")
        if self.timestamp is not None and self.timestamp.tzinfo is None:
            raise ValueError(f"`timestamp` {self.timestamp.isoformat()} has no timezone; pass UTC")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionContext:
        """Build from a JSON-like mapping (``timestamp`` as ISO text or datetime)."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown context field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(data)
        if isinstance(values.get("timestamp"), str):
            values["timestamp"] = datetime.fromisoformat(values["timestamp"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ValueError(f"context is missing a required field: {exc}") from None

    def at(self) -> datetime:
        """The decision time (now, UTC, when the context has none)."""
        return self.timestamp or datetime.now(UTC)

    @property
    def help_intent(self) -> bool:
        """Whether the shopper's text intent asks for help."""
        return self.intent is not None and self.intent.lower() in HELP_INTENTS

    def features(self) -> list[float]:
        """Numeric features for the learned policy (see :data:`FEATURE_NAMES`)."""
        p, r = self.purchase_probability, self.abandonment_risk
        persuadable = 4.0 * p * (1.0 - p)
        return [1.0, p, r, persuadable, r * persuadable, math.log1p(self.cart_value),
                float(self.help_intent), self.risk_score]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (timestamp as ISO text), in field order.

        A shallow per-field dict, not ``dataclasses.asdict``: every field is an immutable
        scalar (text, number, datetime), so asdict's recursive deep copy returned the same
        values and cost several times more, once per decision of every carted session.
        """
        out = {name: getattr(self, name) for name in _FIELD_NAMES}
        out["timestamp"] = self.timestamp.isoformat() if self.timestamp else None
        return out


#: :class:`DecisionContext`'s field names in declaration order (the keys of ``as_dict``).
_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(DecisionContext))
