"""Canonical records every shopintent package speaks.

These are plain frozen dataclasses on purpose: the schema package imports
nothing heavy, so the service, the loaders and the models can all depend on it.
Batch validation of tables (where throughput matters) lives in
:mod:`shopintent.schema.validation`; the columns it produces are named after
the fields here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """What a shopper did. Aliases used by public logs map onto these names."""

    VIEW = "view"
    SEARCH = "search"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    FAVOURITE = "favourite"
    PURCHASE = "purchase"

    @classmethod
    def parse(cls, value: str) -> EventType:
        """Map a canonical name or a common alias (``pv``, ``cart``, ``buy``…) to a type."""
        key = str(value).strip().lower()
        canonical = EVENT_TYPE_ALIASES.get(key, key)
        try:
            return cls(canonical)
        except ValueError:
            allowed = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown event type {value!r}; expected one of {allowed}") from None


#: Names used by public logs (Taobao, RetailRocket, GA exports) for canonical types.
EVENT_TYPE_ALIASES: dict[str, str] = {
    "pv": "view",
    "click": "view",
    "detail": "view",
    "page_view": "view",
    "cart": "add_to_cart",
    "addtocart": "add_to_cart",
    "add-to-cart": "add_to_cart",
    "remove": "remove_from_cart",
    "remove-from-cart": "remove_from_cart",
    "fav": "favourite",
    "favorite": "favourite",
    "wishlist": "favourite",
    "buy": "purchase",
    "transaction": "purchase",
    "order": "purchase",
}

#: Event types that must name the item they act on.
ITEM_EVENT_TYPES: frozenset[EventType] = frozenset(
    {
        EventType.VIEW,
        EventType.ADD_TO_CART,
        EventType.REMOVE_FROM_CART,
        EventType.FAVOURITE,
        EventType.PURCHASE,
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a shopper did at one moment.

    ``timestamp`` is timezone-aware UTC. ``price`` is the unit price and
    ``quantity`` the number of units (purchases, carts). ``event_id`` is the
    client's id, which makes ingest idempotent when given.
    """

    user_id: str
    timestamp: datetime
    event_type: EventType
    item_id: str | None = None
    session_id: str | None = None
    category_id: str | None = None
    query: str | None = None
    price: float | None = None
    quantity: int | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """Aggregates of one shopper session, as the store computes them."""

    session_id: str
    user_id: str
    start: datetime
    end: datetime
    n_events: int
    n_views: int
    n_searches: int
    n_add_to_cart: int
    n_remove_from_cart: int
    n_favourite: int
    n_purchase: int
    n_items: int
    n_categories: int
    revenue: float

    @property
    def duration_s(self) -> float:
        """Seconds between the first and the last event."""
        return (self.end - self.start).total_seconds()

    @property
    def purchased(self) -> bool:
        """Whether the session holds at least one purchase."""
        return self.n_purchase > 0


@dataclass(frozen=True, slots=True)
class Span:
    """A labelled character range ``text[start:end]`` (end exclusive)."""

    start: int
    end: int
    label: str
    text: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"span [{self.start}, {self.end}) is empty or negative")


@dataclass(frozen=True, slots=True)
class TextQuery:
    """Something a shopper typed, with whatever labels a data set gives it.

    ``intent`` is the main class label (``"oos"`` for out-of-scope);
    ``labels`` holds the others (domain, category, sentiment…); ``spans`` are
    slots or entities with character offsets into ``text``.
    """

    text: str
    language: str
    intent: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    spans: tuple[Span, ...] = ()
    split: str | None = None
    query_id: str | None = None

    def __post_init__(self) -> None:
        for span in self.spans:
            if span.end > len(self.text):
                raise ValueError(
                    f"span {span.label} [{span.start}, {span.end}) runs past the text "
                    f"(length {len(self.text)})"
                )


@dataclass(frozen=True, slots=True)
class Item:
    """A product in the catalogue. ``attributes`` are categorical codes or names."""

    item_id: str
    category_id: str | None = None
    title: str | None = None
    brand: str | None = None
    price: float | None = None
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InteractionSequence:
    """One user's items in time order (the sequential-recommendation input)."""

    user_id: str
    items: tuple[str, ...]
    timestamps: tuple[datetime, ...] | None = None

    def __post_init__(self) -> None:
        if self.timestamps is not None and len(self.timestamps) != len(self.items):
            raise ValueError(
                f"user {self.user_id}: {len(self.items)} items but {len(self.timestamps)} timestamps"
            )


@dataclass(frozen=True, slots=True)
class BanditFeedback:
    """One logged decision of a policy and what came of it.

    ``propensity`` is the probability with which the logging policy chose
    ``action`` at ``position`` given ``context``; off-policy estimators need it.
    """

    timestamp: datetime
    context: dict[str, float]
    action: str
    position: int
    reward: float
    propensity: float
    policy: str

    def __post_init__(self) -> None:
        if not 0.0 < self.propensity <= 1.0:
            raise ValueError(f"propensity {self.propensity} is outside (0, 1]")


@dataclass(frozen=True, slots=True)
class QAPair:
    """A product question and its answer (FAQ / product QA)."""

    item_id: str
    question: str
    answer: str
    question_type: str | None = None
    answer_type: str | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """An intervention the engine chose, logged with its propensity."""

    decision_id: str
    timestamp: datetime
    user_id: str
    session_id: str
    action: str
    propensity: float
    policy_version: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What followed a decision (purchase, click, redemption), joined by ``decision_id``."""

    decision_id: str
    timestamp: datetime
    kind: str
    value: float = 1.0
