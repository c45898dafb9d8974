"""bitext_customer_service: 27 support intents with entity spans, three splits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from shopintent.datasets import bitext_customer_service as dataset
from shopintent.schema import Span
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.BitextCustomerService:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["train"], found["validation"], found["test"]) == (6_480, 810, 810)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_queries_carry_intent_category_and_spans(loaded: dataset.BitextCustomerService) -> None:
    first = loaded.queries[0]
    assert first.text == "how can I cancel purchase 113542617735902?"
    assert (first.intent, first.split, first.language) == ("cancel_order", "train", "en")
    assert first.labels["category"] == "ORDER"
    assert first.spans == (Span(26, 41, "order_id", "113542617735902"),)
    assert Counter(q.split for q in loaded.queries) == {
        "train": 6_480, "validation": 810, "test": 810,
    }
    assert len({q.intent for q in loaded.queries}) == 27
    assert all(q.intent and q.labels["category"] for q in loaded.queries)


def test_every_span_is_the_utterances_own_text(loaded: dataset.BitextCustomerService) -> None:
    spans = [(q, s) for q in loaded.queries for s in q.spans]
    assert len(spans) == 3_119
    assert all(q.text[s.start : s.end] == s.text for q, s in spans)
    assert loaded.span_checks == {
        "exact": 2_527, "case_differs": 592, "relocated": 0, "unlocated": 0,
    }


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
