"""IntentClassifier on real CLINC150 rows: held-out accuracy, OOS rejection, calibration, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopintent.settings import Settings
from shopintent.text import recipes
from shopintent.text.intent import IntentClassifier, NotFittedError
from shopintent.text.metrics import intent_scores


def test_clinc_subset_in_scope_accuracy_and_oos_recall_on_test(
    clinc_model: IntentClassifier, clinc_small: dict[str, recipes.TextSplit]
) -> None:
    test = clinc_small["test"]
    predictions = clinc_model.predict_with_confidence(test.texts)
    scores = intent_scores(test.labels, [p for p, _ in predictions], [c for _, c in predictions])
    # 15 intents + oos, 40 training rows per intent: measured 0.96 / 0.75 / ECE 0.05
    assert scores["in_scope_accuracy"] >= 0.88
    assert scores["oos_recall"] >= 0.55
    assert scores["ece"] <= 0.15
    assert clinc_model.threshold_ > 0.0
    assert 0.0 < clinc_model.temperature_ < 10.0


def test_predict_proba_rows_sum_to_one_in_class_order(clinc_model: IntentClassifier) -> None:
    proba = clinc_model.predict_proba(["what's the exchange rate for euros", "book a table"])
    assert proba.shape == (2, len(clinc_model.classes_))
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_rejected_text_gets_oos_with_its_confidence(clinc_model: IntentClassifier) -> None:
    label, confidence = clinc_model.predict_with_confidence(["qwertyuiop asdf zxcv"])[0]
    assert label == "oos"
    assert 0.0 < confidence <= 1.0


def test_head_scores_equal_the_strided_product_and_follow_a_new_coef(
    clinc_model: IntentClassifier, clinc_small: dict[str, recipes.TextSplit]
) -> None:
    # decision_function keeps a contiguous copy of the TF-IDF block of the head (scipy copied the
    # strided view on every call): the scores must be the very same numbers, and a replaced coef_
    # must not be scored with the old copy.
    texts = clinc_small["test"].texts[:20]
    dense, sparse = clinc_model.featurizer_.transform_parts(texts)
    assert sparse is not None
    width = dense.shape[1]
    expected = dense @ clinc_model.coef_[:, :width].T + clinc_model.intercept_
    expected = expected + np.asarray(sparse @ clinc_model.coef_[:, width:].T)
    assert np.array_equal(clinc_model.decision_function(texts), expected)
    original = clinc_model.coef_
    try:
        clinc_model.coef_ = original * 2.0
        doubled = dense @ clinc_model.coef_[:, :width].T + clinc_model.intercept_
        doubled = doubled + np.asarray(sparse @ clinc_model.coef_[:, width:].T)
        assert np.array_equal(clinc_model.decision_function(texts), doubled)
    finally:
        clinc_model.coef_ = original


def test_save_and_load_give_identical_predictions(
    clinc_model: IntentClassifier, clinc_small, tmp_path: Path, session_settings: Settings
) -> None:
    clinc_model.save(tmp_path / "m")
    loaded = IntentClassifier.load(tmp_path / "m", cache_dir=session_settings.state_dir)
    texts = clinc_small["test"].texts[:50]
    assert loaded.predict(texts) == clinc_model.predict(texts)
    assert np.allclose(loaded.predict_proba(texts), clinc_model.predict_proba(texts), atol=1e-5)
    meta = (tmp_path / "m" / "model.json").read_text()
    assert clinc_model.data_checksum_ in meta and '"threshold"' in meta


def test_bad_training_input_names_the_row() -> None:
    with pytest.raises(ValueError, match="row 1: label is empty"):
        IntentClassifier(encoders=()).fit(["a", "b", "c"], ["x", "", "y"])
    with pytest.raises(ValueError, match="3 texts but 2 labels"):
        IntentClassifier(encoders=()).fit(["a", "b", "c"], ["x", "y"])
    with pytest.raises(NotFittedError):
        IntentClassifier().predict(["hi"])


def test_bitext_tfidf_baseline_reaches_high_test_accuracy(session_settings: Settings) -> None:
    splits = recipes.bitext_splits(session_settings)
    model = IntentClassifier(encoders=(), oos_label="__none__").fit(
        splits["train"].texts[::3], splits["train"].labels[::3]
    )
    scores = intent_scores(splits["test"].labels, model.predict(splits["test"].texts))
    assert scores["accuracy"] >= 0.95  # measured 0.99 with a third of the training rows


def test_lstm_baseline_learns_clinc_subset_and_rejects_with_a_threshold(
    clinc_small: dict[str, recipes.TextSplit],
) -> None:
    from shopintent.text.lstm import LSTMClassifier

    model = LSTMClassifier(epochs=6, hidden_dim=64, embedding_dim=64, random_state=0).fit(
        clinc_small["train"].texts,
        clinc_small["train"].labels,
        clinc_small["validation"].texts,
        clinc_small["validation"].labels,
    )
    test = clinc_small["test"]
    predictions = model.predict_with_confidence(test.texts)
    scores = intent_scores(test.labels, [p for p, _ in predictions])
    assert scores["accuracy"] >= 0.5  # measured 0.74 on 15 intents + oos with 40 rows each
