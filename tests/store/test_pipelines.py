"""Sessionisation, aggregates and sequences on small hand-made logs with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from shopintent.schema.validation import validate_events
from shopintent.store import EventStore
from shopintent.store.pipelines import funnel, sequences_to_lists

T0 = pd.Timestamp("2024-03-01 10:00:00", tz="UTC")


def _events(rows: list[tuple]) -> pd.DataFrame:
    """rows: (user, minutes after T0, event_type, item, category, price[, session])."""
    records = []
    for i, row in enumerate(rows):
        user, minutes, event_type, item, category, price, *rest = row
        records.append(
            {
                "event_id": f"e{i}",
                "user_id": user,
                "timestamp": (T0 + pd.Timedelta(minutes=minutes)).isoformat(),
                "event_type": event_type,
                "item_id": item,
                "category_id": category,
                "price": price,
                "session_id": rest[0] if rest else None,
            }
        )
    report = validate_events(records)
    assert not report.rejections
    return report.valid


@pytest.fixture
def store() -> EventStore:
    log = _events(
        [
            ("alice", 0, "view", "i1", "c1", None),
            ("alice", 10, "add_to_cart", "i1", "c1", None),
            ("alice", 40, "view", "i2", "c2", None),  # exactly 30 min: same session
            ("alice", 70.5, "view", "i3", "c1", None),  # 30.5 min later: new session
            ("alice", 71, "purchase", "i3", "c1", 20.0),
            ("bob", 0, "view", "i2", "c2", None),
            ("bob", 0, "view", "i4", "c2", None),  # same instant: ingest order decides
            ("bob", 5, "add_to_cart", "i4", "c2", None),
        ]
    )
    with EventStore() as s:
        s.append(log)
        yield s


def test_sessionise_splits_on_more_than_30_minutes_of_inactivity(store: EventStore) -> None:
    sessions = store.sessions(30)
    alice = sessions[sessions["user_id"] == "alice"]
    assert alice["session_id"].tolist() == ["alice:1"] * 3 + ["alice:2"] * 2
    assert sessions["session_id"].nunique() == 3


def test_sessionise_respects_client_session_boundaries() -> None:
    log = _events(
        [
            ("carol", 0, "view", "i1", "c1", None, "web-1"),
            ("carol", 2, "view", "i2", "c1", None, "web-2"),  # client says new session
            ("carol", 3, "view", "i3", "c1", None, None),  # no client id: gap rule only
        ]
    )
    with EventStore() as store:
        store.append(log)
        sessions = store.sessions(30)
    assert sessions["session_id"].tolist() == ["carol:1", "carol:2", "carol:2"]
    assert sessions["client_session_id"].tolist()[:2] == ["web-1", "web-2"]


def test_session_aggregates_count_each_event_type(store: EventStore) -> None:
    aggregates = store.session_aggregates(30).set_index("session_id")
    first = aggregates.loc["alice:1"]
    assert (first.n_events, first.n_views, first.n_add_to_cart, first.n_purchase) == (3, 2, 1, 0)
    assert first.duration_s == 40 * 60
    assert bool(first.cart_abandoned) and not bool(first.purchased)
    second = aggregates.loc["alice:2"]
    assert bool(second.purchased) and second.revenue == 20.0 and second.n_items == 1
    bob = aggregates.loc["bob:1"]
    assert (bob.n_events, bob.n_items, bob.n_categories) == (3, 2, 1)


def test_sequences_are_ordered_with_dwell_times(store: EventStore) -> None:
    sequences = store.sequences(30)
    bob = sequences[sequences["session_id"] == "bob:1"]
    assert bob["position"].tolist() == [0, 1, 2]
    assert bob["item_id"].tolist() == ["i2", "i4", "i4"]
    assert bob["dwell_s"].tolist()[:2] == [0.0, 300.0]
    assert pd.isna(bob["dwell_s"].iloc[-1])
    lists = sequences_to_lists(sequences).set_index("session_id")
    assert lists.loc["alice:1", "event_types"] == ["view", "add_to_cart", "view"]


def test_funnel_counts_strict_and_per_stage_sessions(store: EventStore) -> None:
    table = funnel(store.session_aggregates(30)).set_index("stage")
    assert table.loc["view", "sessions"] == 3
    assert table.loc["add_to_cart", "sessions"] == 2
    # alice:2 bought without a cart event: out of the strict funnel, in the per-stage count.
    assert table.loc["purchase", "sessions"] == 0
    assert table.loc["purchase", "sessions_with_event"] == 1


def test_gap_must_be_positive(store: EventStore) -> None:
    with pytest.raises(ValueError, match="gap_minutes must be positive"):
        store.sessions(0)
