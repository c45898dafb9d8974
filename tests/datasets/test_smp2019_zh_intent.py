"""smp2019_zh_intent: 2,579 Chinese utterances with domain, intent and located slots."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopintent.datasets import smp2019_zh_intent as dataset
from shopintent.schema import Span
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.Smp2019Intent:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["domains"], found["intents"]) == (2_579, 29, 23)
    assert found["slots_unlocated"] == 0
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_queries_have_domain_intent_and_slots(loaded: dataset.Smp2019Intent) -> None:
    first = loaded.queries[0]
    assert (first.text, first.intent, first.labels) == ("请帮我打开uc", "LAUNCH", {"domain": "app"})
    assert first.spans == (Span(5, 7, "name", "uc"),)
    assert all(q.split is None and q.language == "zh" for q in loaded.queries)
    assert all(q.text[s.start : s.end] == s.text for q in loaded.queries for s in q.spans)
    assert set(q.intent for q in loaded.queries) <= set(loaded.intent_labels)
    assert "[UNK]" not in loaded.intent_labels


def test_slots_nest_when_a_value_occurs_only_inside_another() -> None:
    spans, missing = dataset.locate_slots(
        "佛山到佛山大良汽车站", {"startLoc_city": "佛山", "endLoc_poi": "佛山大良汽车站"}
    )
    assert [(s.start, s.end, s.label) for s in spans] == [
        (0, 2, "startLoc_city"), (3, 10, "endLoc_poi"),
    ]
    assert dataset.locate_slots("去北京", {"city": "上海"}) == ([], [("city", "上海")])


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
