"""Fine-tuned and ensemble text classifiers on a real CLINC150 subset: held-out accuracy, OOS, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopintent.settings import Settings
from shopintent.text import recipes
from shopintent.text.ensemble import EnsembleClassifier, load_text_classifier
from shopintent.text.finetune import FineTunedClassifier
from shopintent.text.intent import IntentClassifier, NotFittedError
from shopintent.text.metrics import intent_scores


@pytest.fixture(scope="module")
def tuned(clinc_small: dict[str, recipes.TextSplit]) -> FineTunedClassifier:
    """USE fine-tuned on 15 CLINC intents + oos (40 rows each), 3 epochs (4 measured no better:
    best epoch 2 of 4, 0.967 in-scope / 0.960 OOS recall, against 0.969 / 0.965 with 3)."""
    train, valid = clinc_small["train"], clinc_small["validation"]
    return FineTunedClassifier(backbone="use", epochs=3, threads=2, random_state=0).fit(
        train.texts, train.labels, valid.texts, valid.labels
    )


def test_fine_tuned_use_classifies_held_out_queries_and_rejects_oos(
    tuned: FineTunedClassifier, clinc_small: dict[str, recipes.TextSplit]
) -> None:
    test = clinc_small["test"]
    predictions = tuned.predict_with_confidence(test.texts)
    scores = intent_scores(test.labels, [p for p, _ in predictions], [c for _, c in predictions])
    # measured 0.969 in-scope / 0.965 OOS recall on this subset (3 epochs, seed 0)
    assert scores["in_scope_accuracy"] >= 0.88
    assert scores["oos_recall"] >= 0.5
    assert 1 <= tuned.best_epoch_ <= 3
    assert len(tuned.history_) >= tuned.best_epoch_


def test_fine_tuned_use_understands_chinese_paraphrase_of_an_english_intent(
    tuned: FineTunedClassifier,
) -> None:
    # trained on English only; the multilingual encoder carries the intent across languages
    english = tuned.predict_proba(["what is the exchange rate for dollars to euros"])
    chinese = tuned.predict_proba(["美元兑欧元的汇率是多少"])
    assert english.argmax() == chinese.argmax()


def test_fine_tuned_save_load_round_trip(tuned: FineTunedClassifier, tmp_path: Path) -> None:
    tuned.save(tmp_path / "ft")
    loaded = load_text_classifier(tmp_path / "ft")
    texts = ["book me a flight", "qwerty asdf", "我要退款"]
    assert np.allclose(loaded.predict_proba(texts), tuned.predict_proba(texts), atol=1e-5)
    assert loaded.predict(texts) == tuned.predict(texts)


def test_fine_tuned_handles_empty_and_odd_inputs(tuned: FineTunedClassifier) -> None:
    out = tuned.predict_with_confidence(["", "   ", "😀" * 50, "x" * 10_000, "\x00\x07 hi"])
    assert len(out) == 5 and all(0.0 <= c <= 1.0 for _, c in out)
    assert tuned.predict_proba([]).shape == (0, len(tuned.classes_))


def test_unfitted_and_unknown_backbone_fail_clearly() -> None:
    with pytest.raises(NotFittedError):
        FineTunedClassifier().predict(["hi"])
    with pytest.raises(ValueError, match="backbone 'bert'"):
        FineTunedClassifier(backbone="bert").fit(["a", "b"] * 5, ["x", "y"] * 5)


def test_ensemble_of_linear_and_fine_tuned_is_calibrated_and_round_trips(
    clinc_small: dict[str, recipes.TextSplit], session_settings: Settings, tmp_path: Path
) -> None:
    train, valid, test = clinc_small["train"], clinc_small["validation"], clinc_small["test"]
    ensemble = EnsembleClassifier(
        [
            IntentClassifier(cache_dir=session_settings.state_dir),
            FineTunedClassifier(backbone="use", epochs=2, threads=2),
        ]
    ).fit(train.texts, train.labels, valid.texts, valid.labels)
    assert ensemble.members[0].refit is False  # members never see the calibration rows
    predictions = ensemble.predict_with_confidence(test.texts)
    scores = intent_scores(test.labels, [p for p, _ in predictions], [c for _, c in predictions])
    assert scores["in_scope_accuracy"] >= 0.88
    assert scores["oos_recall"] >= 0.5
    ensemble.save(tmp_path / "ens")
    loaded = load_text_classifier(tmp_path / "ens", cache_dir=session_settings.state_dir)
    assert loaded.predict(test.texts[:40]) == ensemble.predict(test.texts[:40])


def test_onnx_export_reproduces_torch_and_int8_is_kept_only_when_it_agrees(
    tuned: FineTunedClassifier, clinc_small: dict[str, recipes.TextSplit], tmp_path: Path
) -> None:
    texts = clinc_small["test"].texts[:200]
    torch_proba = tuned.predict_proba(texts)
    copy = FineTunedClassifier.load(tuned.save(tmp_path / "m"), runtime="torch")
    report = copy.export_onnx(tmp_path / "onnx", clinc_small["validation"].texts)
    assert report.fp32_max_abs_diff < 1e-3
    assert report.int8_agreement is not None
    assert report.int8 == (report.int8_agreement >= 0.995)
    onnx_proba = copy.predict_proba(texts)
    agree = (onnx_proba.argmax(1) == torch_proba.argmax(1)).mean()
    assert agree >= 0.98
    copy.save(tmp_path / "with_onnx")
    reloaded = FineTunedClassifier.load(tmp_path / "with_onnx")
    assert reloaded.runtime_ is not None
    assert np.allclose(reloaded.predict_proba(texts), onnx_proba, atol=1e-5)


def test_a_model_loaded_onto_onnx_builds_no_torch_network_until_asked(
    tuned: FineTunedClassifier, clinc_small: dict[str, recipes.TextSplit], tmp_path: Path
) -> None:
    copy = FineTunedClassifier.load(tuned.save(tmp_path / "m"), runtime="torch")
    copy.export_onnx(tmp_path / "onnx", clinc_small["validation"].texts, int8=False)
    copy.save(tmp_path / "m2")
    fast = FineTunedClassifier.load(tmp_path / "m2")
    assert not hasattr(fast, "network_")  # tokenizer + ONNX session only: quick to start
    texts = clinc_small["test"].texts[:30]
    assert np.allclose(fast.predict_proba(texts), tuned.predict_proba(texts), atol=1e-4)
    assert fast.embed(texts[:2]).shape == (2, 512)  # builds the torch network on demand
    fast.save(tmp_path / "m3")
    assert FineTunedClassifier.load(tmp_path / "m3").predict(texts) == fast.predict(texts)
