"""Canonical records guard the invariants later packages rely on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopintent.schema import BanditFeedback, EventType, InteractionSequence, Span, TextQuery


def test_event_type_parse_accepts_aliases_and_names_the_allowed_values() -> None:
    assert EventType.parse(" PV ") is EventType.VIEW
    assert EventType.parse("buy") is EventType.PURCHASE
    with pytest.raises(ValueError, match="expected one of view, search"):
        EventType.parse("teleport")


def test_span_must_be_non_empty_and_inside_its_text() -> None:
    with pytest.raises(ValueError, match="empty"):
        Span(3, 3, "brand")
    with pytest.raises(ValueError, match="runs past the text"):
        TextQuery(text="红色", language="zh", spans=(Span(0, 5, "colour"),))
    query = TextQuery(text="红色 XL", language="zh", spans=(Span(0, 2, "colour", "红色"),))
    assert query.text[query.spans[0].start : query.spans[0].end] == "红色"


def test_bandit_feedback_rejects_impossible_propensity() -> None:
    with pytest.raises(ValueError, match="outside"):
        BanditFeedback(datetime(2019, 11, 24, tzinfo=UTC), {}, "14", 1, 0.0, 0.0, "random")


def test_interaction_sequence_needs_one_timestamp_per_item() -> None:
    with pytest.raises(ValueError, match="2 items but 1 timestamps"):
        InteractionSequence("u1", ("a", "b"), (datetime(2020, 1, 1, tzinfo=UTC),))
