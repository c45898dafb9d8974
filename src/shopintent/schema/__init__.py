"""Canonical records (events, sessions, text, items, bandit feedback) and their validation.

The records import only the standard library; batch validation of tables is in
:mod:`shopintent.schema.validation` (pandas), imported on first use.
"""

from shopintent.schema.records import (
    EVENT_TYPE_ALIASES,
    ITEM_EVENT_TYPES,
    BanditFeedback,
    Decision,
    Event,
    EventType,
    InteractionSequence,
    Item,
    Outcome,
    QAPair,
    Session,
    Span,
    TextQuery,
)

__all__ = [
    "EVENT_TYPE_ALIASES",
    "ITEM_EVENT_TYPES",
    "BanditFeedback",
    "Decision",
    "Event",
    "EventType",
    "InteractionSequence",
    "Item",
    "Outcome",
    "QAPair",
    "Session",
    "Span",
    "TextQuery",
]
