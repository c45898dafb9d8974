"""Service flows: a shop intent (order status, cancel, return, refund, delivery, payment, account)
answered from the shopper's own orders in the event store and the shop's template file.

The intents are the default shop-intent model's (Bitext customer-service labels,
which its Chinese rows share: ``我要退货`` is ``get_refund`` like "I want a
refund"). Each flow picks one outcome of the template file from what the store
says (the order found, inside or past a window, not one of the caller's, no orders
at all) and fills its placeholders from the order; the answer's sources name the
template key and the stored event it read, so every answer can be traced.

>>> from datetime import UTC, datetime
>>> from shopintent.assist.phrasebook import Phrasebook
>>> from shopintent.assist.store_lookup import Order, OrderLookup
>>> order = Order("e_1", datetime(2017, 12, 1, 9, 30, tzinfo=UTC), "2268318", 1, 59.0)
>>> found = answer_flow(Phrasebook.load(), "cancel_order", "en", OrderLookup(order, 3, True),
...                     datetime(2017, 12, 3, tzinfo=UTC), order_ref="1234")
>>> found.outcome, found.sources
('closed', ('template:cancel.en.closed', 'store:e_1'))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shopintent.assist.phrasebook import Phrasebook
from shopintent.assist.store_lookup import OrderLookup

#: The flow each service intent goes to.
FLOW_OF_INTENT: dict[str, str] = {
    "track_order": "order_status", "change_order": "order_status",
    "cancel_order": "cancel", "check_cancellation_fee": "cancel",
    "check_refund_policy": "return",
    "get_refund": "refund", "track_refund": "refund",
    "delivery_period": "delivery", "delivery_options": "delivery",
    "change_shipping_address": "delivery", "set_up_shipping_address": "delivery",
    "check_payment_methods": "payment", "payment_issue": "payment",
    "check_invoice": "payment", "get_invoice": "payment",
    "create_account": "account", "delete_account": "account", "edit_account": "account",
    "recover_password": "account", "registration_problems": "account", "switch_account": "account",
}
#: Intents whose answer is about one order (the rest get the flow's general answer, unless the
#: shopper named an order number).
ORDER_INTENTS = frozenset({"track_order", "change_order", "cancel_order", "get_refund", "track_refund",
                           "delivery_period", "payment_issue", "check_invoice", "get_invoice"})
#: Flows with a window: the order is ``open`` before its end and ``closed`` after.
WINDOWS = {"cancel": ("cancel_window_hours", 3600.0), "return": ("return_window_days", 86400.0)}


@dataclass(frozen=True)
class FlowAnswer:
    """A flow's answer: the text, which flow and outcome gave it, and its sources."""

    text: str
    flow: str
    outcome: str
    sources: tuple[str, ...]


def flow_for(intent: str | None) -> str | None:
    """The flow that answers ``intent`` (``None``: not a service intent)."""
    return FLOW_OF_INTENT.get(intent or "")


def wants_order(intent: str, named_order: bool) -> bool:
    """Whether the flow should look an order up: an order intent, or any flow intent naming an order."""
    return intent in ORDER_INTENTS or (named_order and intent in FLOW_OF_INTENT)


def _date(value: datetime, with_time: bool = True) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def order_fields(book: Phrasebook, language: str, lookup: OrderLookup, now: datetime,
                 order_ref: str | None) -> dict[str, Any]:
    """Placeholders of an outcome about ``lookup.order``, in ``language``'s words."""
    order = lookup.order
    assert order is not None
    words = book.words.get(language) or book.words[book.default_language]
    settings = book.settings
    bought = order.purchased_at
    total = order.total
    return {
        "order_ref": f"…{order_ref}" if order_ref else words["latest_order"],
        "purchased_at": _date(bought),
        "item": order.item_id or words["unknown"],
        "quantity": order.quantity or 1,
        "total": words["unknown"] if total is None else f"{words['currency']}{total:.2f}",
        "days_since": max(0, (now - bought).days),
        "return_until": _date(bought + timedelta(days=settings["return_window_days"]), False),
        "cancel_until": _date(bought + timedelta(hours=settings["cancel_window_hours"])),
        "delivery_by": _date(bought + timedelta(days=settings["delivery_days"]), False),
        "orders": lookup.orders,
    }


def answer_flow(book: Phrasebook, intent: str, language: str, lookup: OrderLookup | None,
                now: datetime, order_ref: str | None = None) -> FlowAnswer:
    """Answer a service intent from the template file and (when looked up) the caller's order.

    ``lookup`` is ``None`` for a question that needs no order; ``now`` decides
    whether a cancel or return window is still open; ``order_ref`` is the short
    reference of the number the shopper typed (never the whole number).
    """
    flow = FLOW_OF_INTENT[intent]
    language = language if language in book.words else book.default_language
    orders = lookup.orders if lookup is not None else 0
    fields: dict[str, Any] = {"orders": orders}
    sources: list[str] = []
    if lookup is not None and not book.has(flow, language, "not_found"):
        lookup = None  # a flow about no order (account): its order count still fills ${orders}
        fields["orders"] = orders
    if lookup is None:
        outcome = intent if book.has(flow, language, intent) else "general"
        if not book.has(flow, language, outcome):
            outcome = "no_orders"  # order_status has no general answer: it is always about an order
    elif lookup.order is None:
        outcome = "not_found" if lookup.named else "no_orders"
    else:
        fields = order_fields(book, language, lookup, now, order_ref)
        sources.append(f"store:{lookup.order.event_id}")
        outcome = "found"
        if flow in WINDOWS:
            name, unit_s = WINDOWS[flow]
            elapsed = (now - lookup.order.purchased_at).total_seconds()
            outcome = "open" if elapsed <= book.settings[name] * unit_s else "closed"
    text = book.render(flow, language, outcome, fields)
    return FlowAnswer(text, flow, outcome, (f"template:{flow}.{language}.{outcome}", *sources))
