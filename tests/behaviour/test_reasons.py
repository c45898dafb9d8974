"""Score reasons in words: one phrase per feature, with the value and the direction of the push."""

from __future__ import annotations

import doctest
import math
import re

import pandas as pd
import pytest

from shopintent.behaviour import reasons as reasons_module
from shopintent.behaviour.features import FEATURE_NAMES, SessionFeatureState, UserHistory
from shopintent.behaviour.reasons import PHRASES, UNDEFINED_UNTIL_SEEN, describe, in_words, phrase
from shopintent.behaviour.scorer import Reason


def test_every_feature_has_exactly_one_phrase() -> None:
    assert sorted(PHRASES) == sorted(FEATURE_NAMES)


def test_the_module_examples_run() -> None:
    assert doctest.testmod(reasons_module).failed == 0


@pytest.mark.parametrize(("feature", "value", "contribution", "words"), [
    ("open_cart_items", 3.0, 0.4, "3 items in the cart ↑"),
    ("open_cart_items", 1.0, -0.1, "1 item in the cart ↓"),
    ("n_add_to_cart", 2.0, 0.3, "2 adds to cart this session ↑"),
    ("n_categories", 1.0, 0.3, "1 category looked at ↑"),
    ("prior_sessions", 0.0, -0.2, "first visit ↓"),
    ("prior_sessions", 3.0, 0.2, "4th visit ↑"),
    ("prior_sessions", 10.0, 0.2, "11th visit ↑"),
    ("prior_sessions", 21.0, 0.2, "22nd visit ↑"),
    ("last_gap_s", 720.0, -0.3, "12 min since the previous event ↓"),
    ("last_gap_s", None, 0.1, "first event of the session ↑"),
    ("duration_s", 5400.0, 0.1, "session 1.5 h long ↑"),
    ("mean_gap_s", 42.4, -0.1, "42 s between events on average ↓"),
    ("since_prior_h", 50.0, -0.5, "last visit 2 days before this one ↓"),
    ("since_prior_h", float("nan"), -0.5, "no earlier visit ↓"),
    ("last_item_carted", 1.0, 0.9, "this item in the cart ↑"),
    ("last_item_carted", 0.0, -0.9, "this item not in the cart ↓"),
    ("last_item_views", 2.0, 0.1, "this item viewed twice ↑"),
    ("share_view", 0.75, -0.2, "75% of events are views ↓"),
    ("items_per_event", 0.6, 0.05, "60% of events on a new item ↑"),
    ("items_per_event", 1.0, -0.05, "every event on a new item ↓"),
    ("prior_purchases", 0.0, -0.2, "no purchases on earlier visits ↓"),
    ("hour", 21.5, 0.1, "at 21:30 shop time ↑"),
    ("weekday", 0.0, 0.1, "on a Monday ↑"),
    ("prior_buy_sessions", 0.0, -0.1, "never bought on an earlier visit ↓"),
    ("prior_buy_sessions", 2.0, 0.3, "bought on 2 earlier visits ↑"),
    ("prior_items", 1234.0, 0.1, "1,234 items seen on earlier visits ↑"),
    ("k", 4.0, 0.0, "4 events this session"),
])
def test_a_reason_reads_its_value_and_direction(feature: str, value: float | None,
                                                contribution: float, words: str) -> None:
    assert in_words(feature, value, contribution) == words


def test_a_reason_object_and_its_json_read_the_same() -> None:
    reason = Reason("prior_items", 51.0, -0.27)
    assert describe(reason) == describe(reason.as_dict()) == "51 items seen on earlier visits ↓"


def test_an_unknown_feature_or_a_missing_value_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'basket_size'"):
        phrase("basket_size", 1.0)
    with pytest.raises(ValueError, match="'open_cart_items' has no value"):
        phrase("open_cart_items", None)
    with pytest.raises(ValueError, match="lacks \\['contribution'\\]"):
        describe({"feature": "k", "value": 1.0})


def _real_vectors(sessions: pd.DataFrame, users: int) -> list[list[float]]:
    """Feature rows after every event of the first ``users`` Taobao shoppers, history included."""
    rows: list[list[float]] = []
    chosen = sessions["user_id"].drop_duplicates().head(users)
    frame = sessions[sessions["user_id"].isin(chosen)].sort_values(["user_id", "timestamp", "seq"])
    for _, shopper in frame.groupby("user_id", sort=False):
        history = UserHistory()
        for _, session in shopper.groupby("session_number", sort=True):
            state = SessionFeatureState(history, utc_offset_hours=8.0)
            for event in session.itertuples():
                state.update(str(event.event_type), event.timestamp.timestamp(), str(event.item_id),
                             str(event.category_id))
                rows.append(state.vector().tolist())
            history.absorb(state)
    return rows


def test_every_feature_of_real_taobao_sessions_has_words_carrying_its_value(
        taobao_sessions: pd.DataFrame) -> None:
    rows = _real_vectors(taobao_sessions, users=10)
    assert len(rows) > 500
    counts = {"k", "n_view", "n_items", "open_cart_items", "prior_items", "prior_events",
              "last_category_events", "same_item_run"}
    seen_undefined = set()
    for row in rows:
        for feature, value in zip(FEATURE_NAMES, row, strict=True):
            if math.isnan(value):
                seen_undefined.add(feature)
            words = in_words(feature, value, 1.0)
            assert words.endswith(" ↑") and "nan" not in words, (feature, words)
            assert feature not in words, (feature, words)  # words, not the column name
            if feature in counts:  # a count is said as the number itself
                assert re.match(rf"{int(value):,} " if value else "no ", words), (feature, words)
    # Real sessions exercise every undefined-until-seen feature, and only those are ever undefined.
    assert seen_undefined == UNDEFINED_UNTIL_SEEN
