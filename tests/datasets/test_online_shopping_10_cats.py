"""online_shopping_10_cats: 62,774 Chinese shopping reviews with sentiment and category."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopintent.datasets import online_shopping_10_cats as dataset
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.OnlineShoppingReviews:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["rows"], found["positive"], found["negative"]) == (62_774, 31_728, 31_046)
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_reviews_are_labelled_chinese_queries(loaded: dataset.OnlineShoppingReviews) -> None:
    first = loaded.queries[0]
    assert first.text.startswith("做父母一定要有刘墉这样的心态")
    assert first.language == "zh" and first.query_id == "0"
    assert first.labels == {"sentiment": "positive", "category": "书籍", "category_en": "books"}
    assert {q.labels["category_en"] for q in loaded.queries} == set(dataset.CATEGORIES_EN.values())
    assert all(q.labels["sentiment"] in {"positive", "negative"} for q in loaded.queries)


def test_byte_order_marks_are_removed_and_the_empty_review_kept_aside(
    loaded: dataset.OnlineShoppingReviews,
) -> None:
    assert loaded.bom_removed == 20
    assert not any("\ufeff" in q.text for q in loaded.queries)
    assert [(s.reason, s.row["cat"]) for s in loaded.skipped] == [("empty review", "热水器")]


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
