"""A real event store for the assistant's tests: two real Taobao shoppers' events, their purchases
sent with order numbers (as a shop sends its order ids), ingested through the one ingest path."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events

#: The two shoppers of the Taobao sample with the most purchases.
SHOPPERS = ("100101", "1000488")


@dataclass
class ShopOrders:
    """The store, its pseudonymizer, and each shopper's raw events (purchases carry order numbers)."""

    store: EventStore
    pseudonymizer: Pseudonymizer
    events: pd.DataFrame  # raw rows as ingested, event_id = order number on purchases

    def purchases(self, shopper: str) -> pd.DataFrame:
        rows = self.events[(self.events["user_id"] == shopper) & (self.events["event_type"] == "purchase")]
        return rows.sort_values("timestamp", kind="stable")

    def user_key(self, shopper: str) -> str:
        """The shopper's pseudonymised user id, as the store and the live session hold it."""
        return self.pseudonymizer.pseudonymize(shopper, "user")


def order_number(row_index: int) -> str:
    """A shop-style order number for one purchase row (12 digits: the parser's order-id rule)."""
    return f"2017{row_index:08d}"


def shop_orders(settings: Settings) -> ShopOrders:
    """Ingest the two shoppers' real events into an in-memory store."""
    events = taobao.load(settings).events
    rows = events[events["user_id"].isin(SHOPPERS)].copy()
    purchase = rows["event_type"] == "purchase"
    rows["event_id"] = rows["event_id"].astype("string")
    rows.loc[purchase, "event_id"] = [order_number(i) for i in rows.index[purchase]]
    pseudonymizer = Pseudonymizer.from_settings(settings)
    store = EventStore()
    report = ingest_events(store, rows.reset_index(drop=True), pseudonymizer)
    assert report.rejected == 0 and report.accepted == len(rows)
    return ShopOrders(store, pseudonymizer, rows)
