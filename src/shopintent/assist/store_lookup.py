"""A shopper's own orders, read from the event store: what the service flows answer from.

An order is a stored ``purchase`` event. The number a shopper types is the
client ``event_id`` their shop sent with that purchase; the store holds only its
keyed pseudonym (:mod:`shopintent.privacy.event_ids`), so the typed number is
pseudonymised the same way and looked up together with the caller's pseudonymised
user id. A number that belongs to another shopper therefore finds nothing, exactly
like a number that does not exist: the flow cannot tell the two apart, and neither
can the caller.

Reads go through the store's own DuckDB connection with bound parameters, on
the thread that owns the store (the service runs them through its gateway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from shopintent.privacy import EVENT_ID_LENGTH, Pseudonymizer
from shopintent.privacy.event_ids import CLIENT_ID_NAMESPACE
from shopintent.store import EventStore

#: One query: the caller's purchases, the one with the asked-for keyed id first (else the latest),
#: and how many there are (a window count), so a question costs one scan of the store.
_ORDER_SQL = ("SELECT event_id, timestamp, item_id, quantity, price, COUNT(*) OVER () FROM events "
              "WHERE user_id = ? AND event_type = 'purchase' "
              "ORDER BY (event_id = ?) DESC, timestamp DESC, seq DESC LIMIT 1")


@dataclass(frozen=True)
class Order:
    """One of the caller's purchases as the store holds it (keyed id, no raw ids)."""

    event_id: str
    purchased_at: datetime
    item_id: str | None
    quantity: int | None
    price: float | None

    @property
    def total(self) -> float | None:
        """Price times quantity (quantity 1 when not recorded); ``None`` without a price."""
        if self.price is None:
            return None
        return round(self.price * (self.quantity or 1), 2)


@dataclass(frozen=True)
class OrderLookup:
    """What a flow learns from the store: the order asked about (or the latest) and how many there are."""

    order: Order | None
    orders: int
    named: bool  # the shopper named an order number (else: their latest order)


def order_key(pseudonymizer: Pseudonymizer, order_number: str) -> str:
    """The store's keyed ``event_id`` of a purchase the shop sent with ``order_number`` as its id."""
    return pseudonymizer.pseudonymize(str(order_number), CLIENT_ID_NAMESPACE, length=EVENT_ID_LENGTH)


def _order(row: tuple) -> Order:
    event_id, ts, item, quantity, price = row
    when = pd.Timestamp(ts)
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    return Order(str(event_id), when.to_pydatetime(), None if item is None else str(item),
                 None if quantity is None else int(quantity),
                 None if price is None or pd.isna(price) else float(price))


def lookup_order(store: EventStore, user_id: str, key: str | None = None) -> OrderLookup:
    """The caller's order with keyed id ``key`` (``None``: their latest), and their order count.

    ``user_id`` is the caller's pseudonymised id (the live session's); an order of
    anyone else is never returned.
    """
    if not user_id:
        return OrderLookup(None, 0, key is not None)
    rows = store.connection.execute(_ORDER_SQL, [user_id, key or ""]).fetchall()
    if not rows:
        return OrderLookup(None, 0, key is not None)
    count = int(rows[0][5])
    if key is not None and str(rows[0][0]) != key:
        return OrderLookup(None, count, True)
    return OrderLookup(_order(rows[0][:5]), count, key is not None)
