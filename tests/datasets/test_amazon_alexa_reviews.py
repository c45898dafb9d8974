"""amazon_alexa_reviews: 3,150 English Alexa reviews as sentiment-labelled text queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopintent.datasets import amazon_alexa_reviews as dataset
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.AlexaReviews:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert found["rows"] == 3_150 and found["positive"] == 2_893 and found["negative"] == 257
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_reviews_are_labelled_english_queries(loaded: dataset.AlexaReviews) -> None:
    first = loaded.queries[0]
    assert (first.text, first.language, first.query_id) == ("Love my Echo!", "en", "0")
    assert first.labels == {
        "sentiment": "positive", "variation": "Charcoal Fabric", "date": "2018-07-31",
    }
    assert all(q.labels["sentiment"] in {"positive", "negative"} for q in loaded.queries)
    assert all(q.intent is None and q.split is None for q in loaded.queries)
    dates = sorted(q.labels["date"] for q in loaded.queries)
    assert (dates[0], dates[-1]) == ("2018-05-16", "2018-07-31")


def test_text_is_decoded_as_mac_roman_and_variations_are_tidy(
    loaded: dataset.AlexaReviews,
) -> None:
    texts = [q.text for q in loaded.queries]
    assert any("Can’t wait" in t for t in texts)
    assert any("español" in t for t in texts)
    assert not any("Õ" in t or "Ò" in t for t in texts), "latin-1 misreading of Mac quotes"
    variations = {q.labels["variation"] for q in loaded.queries}
    assert "Black Dot" in variations and "Configuration: Fire TV Stick" in variations
    assert all(v == " ".join(v.split()) for v in variations)


def test_empty_reviews_are_skipped_with_a_reason_not_dropped(
    loaded: dataset.AlexaReviews,
) -> None:
    assert len(loaded.queries) + len(loaded.skipped) == 3_150
    assert len(loaded.skipped) == 79
    assert {s.reason for s in loaded.skipped} == {"empty review"}
    assert all(s.row["feedback"] in {"0", "1"} for s in loaded.skipped)
    assert list(loaded.frame().columns) == [
        "text", "language", "sentiment", "variation", "date", "query_id",
    ]


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
