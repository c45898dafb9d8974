"""zh_ecommerce_ner_ding2019: Chinese product-type and brand spans, plus seven gazetteers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from shopintent.datasets import zh_ecommerce_ner_ding2019 as dataset
from shopintent.schema import Span
from shopintent.settings import Settings
from tests.datasets import checks


@pytest.fixture(scope="module")
def loaded(session_settings: Settings) -> dataset.ZhEcommerceNer:
    return dataset.load(session_settings)


def test_verify_matches_provenance(session_settings: Settings) -> None:
    found = dataset.verify(session_settings)
    assert (found["train"], found["validation"], found["test"]) == (3_989, 500, 498)
    assert found["gazetteer_entries"] == 61_400
    assert dataset.SPEC.rows == 4_987
    checks.assert_registry_verify_ok(dataset.SPEC.name, session_settings)


def test_sentences_are_queries_with_entity_spans(loaded: dataset.ZhEcommerceNer) -> None:
    first = loaded.queries[0]
    assert first.text == "日本otax.欧达可.ksr10-07-25编码开关二排六脚10档.360转无停档"
    assert first.spans == (
        Span(2, 6, "brand", "otax"), Span(7, 10, "brand", "欧达可"),
        Span(24, 26, "product_type", "开关"),
    )
    assert Counter(q.split for q in loaded.queries) == {
        "train": 3_989, "validation": 500, "test": 498,
    }
    assert all(q.text[s.start : s.end] == s.text for q in loaded.queries for s in q.spans)
    labels = Counter(s.label for q in loaded.queries if q.split == "train" for s in q.spans)
    assert labels == {"product_type": 10_479, "brand": 1_630}  # PROVENANCE: ~10.5K / ~1.6K


def test_broken_bioes_is_reported_not_guessed(loaded: dataset.ZhEcommerceNer) -> None:
    assert [m.query_id for m in loaded.malformed] == ["train/1"]
    spans, problems = dataset.bioes_to_spans(list("华为手机"), ["B-HP", "E-HP", "I-HC", "E-HC"])
    assert spans == [Span(0, 2, "brand", "华为")]
    assert problems == [(2, "I-HC continues no open HC entity"),
                        (3, "E-HC continues no open HC entity")]


def test_gazetteers_are_loaded_in_full(loaded: dataset.ZhEcommerceNer) -> None:
    assert set(loaded.gazetteers) == set(dataset.GAZETTEER_FILES)
    assert sum(len(v) for v in loaded.gazetteers.values()) == 61_400
    assert all(e == e.strip() and e for v in loaded.gazetteers.values() for e in v)


def test_missing_file_is_explained(session_settings: Settings, tmp_path: Path) -> None:
    checks.assert_missing_file_is_explained(dataset, session_settings, tmp_path)


def test_corrupted_copy_is_refused(
    session_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks.assert_corrupted_copy_is_refused(dataset, session_settings, tmp_path, monkeypatch)
