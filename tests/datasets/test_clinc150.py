"""clinc150: 150 intents plus out-of-scope, train/validation/test."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from shopintent.datasets import clinc150 as dataset
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.Clinc150:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["oos"], found["intents"]) == (23_700, 1_200, 150)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_queries_have_intent_domain_and_split(loaded: dataset.Clinc150) -> None:
    first = loaded.queries[0]
    assert first.text == "what expression would i use to say i love you if i were an italian"
    assert (first.intent, first.labels, first.split) == ("translate", {"domain": "travel"}, "train")
    assert first.query_id == "train/0"
    assert Counter(q.split for q in loaded.queries) == {
        "train": 15_100, "validation": 3_100, "test": 5_500,
    }
    assert all(q.language == "en" and q.intent and q.text.strip() for q in loaded.queries)


def test_out_of_scope_queries_have_no_domain(loaded: dataset.Clinc150) -> None:
    oos = [q for q in loaded.queries if q.intent == dataset.OOS]
    assert len(oos) == 1_200 and all(q.labels == {} for q in oos)
    assert all("domain" in q.labels for q in loaded.queries if q.intent != dataset.OOS)
    assert len(loaded.domains) == 10 and all(len(v) == 15 for v in loaded.domains.values())
    assert "order_status" in loaded.domains["banking"] + loaded.domains["home"]


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
