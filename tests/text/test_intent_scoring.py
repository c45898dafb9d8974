"""The service's scikit-learn-free IntentScorer answers as the saved IntentClassifier on real texts."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from shopintent.settings import Settings
from shopintent.text import recipes
from shopintent.text.clean import clean_text
from shopintent.text.features import _tfidf
from shopintent.text.intent import IntentClassifier
from shopintent.text.intent_scoring import IntentScorer, char_wb_ngrams, softmax


def _real_texts(settings: Settings, clinc_small: dict[str, recipes.TextSplit]) -> list[str]:
    """CLINC test rows, Bitext utterances and Chinese SMP queries (the routed-language head), plus odd ones."""
    path = settings.data_dir / "bitext_customer_service" / "Bitext_Sample_Customer_Service_Testing_Dataset.csv"
    with path.open(newline="", encoding="utf-8") as f:
        bitext = [row["utterance"] for row in csv.DictReader(f)][:300]
    zh = recipes.smp_frame(settings)["text"].astype(str).tolist()[:200]
    return clinc_small["test"].texts + bitext + zh + ["", "   ", "ＦＵＬＬ　ｗｉｄｔｈ", "emoji 😀 ok", "a\tb\n\nc"]


def test_char_wb_ngrams_are_sklearns_analyzer(session_settings: Settings, clinc_small) -> None:  # type: ignore[no-untyped-def]
    analyzer = _tfidf(1000).build_analyzer()
    for text in _real_texts(session_settings, clinc_small):
        for variant in (text, clean_text(text)):
            assert char_wb_ngrams(variant) == analyzer(variant)


def test_softmax_is_scipys() -> None:
    from scipy.special import softmax as scipy_softmax

    logits = np.random.default_rng(0).normal(size=(50, 16)) * 7
    assert np.array_equal(softmax(logits), scipy_softmax(logits, axis=1))


def test_the_loaded_scorer_gives_the_classifiers_probabilities_and_labels(
        session_settings: Settings, clinc_small, clinc_model: IntentClassifier, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = clinc_model.save(tmp_path / "intent")
    scorer = IntentScorer.load(directory, cache_dir=session_settings.state_dir)
    loaded = IntentClassifier.load(directory, cache_dir=session_settings.state_dir)
    texts = _real_texts(session_settings, clinc_small)
    assert loaded.routed_rows(texts).size == scorer.routed_rows(texts).size > 100  # zh: encoder-only head
    for model in (clinc_model, loaded):
        assert np.max(np.abs(scorer.decision_function(texts) - model.decision_function(texts))) <= 1e-9
        assert np.max(np.abs(scorer.predict_proba(texts) - model.predict_proba(texts))) <= 1e-9
        assert scorer.predict(texts) == model.predict(texts)
        ours, theirs = scorer.predict_with_confidence(texts), model.predict_with_confidence(texts)
        assert [label for label, _ in ours] == [label for label, _ in theirs]
        assert max(abs(a[1] - b[1]) for a, b in zip(ours, theirs, strict=True)) <= 1e-9
    assert list(scorer.classes_) == list(clinc_model.classes_) and scorer.encoders == ("use",)
