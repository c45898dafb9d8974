"""The default shop-intent model: the linear model first; the fine-tuned one replaces it only when better."""

from __future__ import annotations

import json
import shutil

import pytest

from shopintent.settings import Settings
from shopintent.text import defaults, recipes
from shopintent.text.finetune import FineTunedClassifier
from shopintent.text.intent import IntentClassifier
from shopintent.text.metrics import intent_scores


def test_default_shop_intent_is_the_linear_model_trained_once_and_loaded(
    prepared_state: tuple[Settings, dict[str, object]],
) -> None:
    """The linear default `models prepare` trained (``ensure_model(train_missing=True)`` in its own
    process, on an empty folder: tests/conftest.py) is cached: asked again it loads, never retrains.
    Reused rather than trained a second time here (~45 s on CI); the shared folder is only read."""
    settings, _ = prepared_state
    path = defaults.model_path(settings, "shop_intent")
    saved_at = (path / "manifest.json").stat().st_mtime_ns
    meta = json.loads((path / "model.json").read_text())
    assert meta["kind"] == "IntentClassifier"
    model = defaults.ensure_model(settings, "shop_intent", train_missing=True)
    assert (path / "manifest.json").stat().st_mtime_ns == saved_at  # trained once: not again
    loaded = defaults.ensure_model(settings, "shop_intent", train_missing=False)
    assert isinstance(loaded, IntentClassifier) and isinstance(model, IntentClassifier)
    test = recipes.shop_intent_splits(settings)["test"]
    texts, labels = test.texts[::10], test.labels[::10]
    assert loaded.predict(texts) == model.predict(texts)
    scores = intent_scores(labels, loaded.predict(texts))
    assert scores["in_scope_accuracy"] >= 0.95 and scores["oos_recall"] >= 0.9
    by_language = meta["metrics"]["validation_accuracy_by_language"]
    assert defaults.selection_score(path) == pytest.approx(sum(by_language.values()) / len(by_language))


def test_finetuned_candidate_replaces_the_default_only_when_better_on_validation(
    session_settings: Settings,
    prepared_state: tuple[Settings, dict[str, object]],
) -> None:
    live, candidate = defaults.model_path(session_settings, "shop_intent"), defaults.candidate_path(
        session_settings)
    # the same recipe on 600 evenly spaced real rows, one epoch: the promotion logic, in seconds
    model = defaults.train_shop_intent(session_settings, candidate, epochs=1, max_rows=600)
    assert json.loads((candidate / "model.json").read_text())["onnx"] is not None

    saved_live = live.with_name("live-kept-by-test")
    if live.exists():
        live.rename(saved_live)
    try:
        # no default yet: the candidate becomes it, and loads on ONNX Runtime like any default
        assert defaults.promote_if_better(session_settings)
        loaded = defaults.ensure_model(session_settings, "shop_intent", train_missing=False)
        assert isinstance(loaded, FineTunedClassifier) and loaded.runtime_ is not None
        texts = recipes.shop_intent_splits(session_settings)["test"].texts[::20]
        assert loaded.predict(texts) == model.predict(texts)
        assert candidate.is_dir()  # kept, so the next `models prepare` finds it cached
    finally:
        shutil.rmtree(live, ignore_errors=True)
        if saved_live.exists():
            saved_live.rename(live)

    # against a linear default: promoted exactly when its validation accuracy is higher. The
    # session's default when another test trained it, else a copy of the linear default the
    # session's `models prepare` trained (the model a real candidate is weighed against)
    if not live.exists():
        shutil.copytree(defaults.model_path(prepared_state[0], "shop_intent"), live)
    # compared by zh and en validation accuracy weighed equally, recorded at fit time
    by_language = json.loads((candidate / "model.json").read_text())["metrics"][
        "validation_accuracy_by_language"]
    assert set(by_language) == {"zh", "en"}
    linear_score = defaults.selection_score(live)
    tuned_score = defaults.selection_score(candidate)
    assert linear_score is not None and tuned_score is not None
    promoted = defaults.promote_if_better(session_settings)
    assert promoted == (tuned_score > linear_score)
    kind = json.loads((live / "model.json").read_text())["kind"]
    assert kind == ("FineTunedClassifier" if promoted else "IntentClassifier")


def test_selection_score_weighs_each_language_equally_whatever_its_row_count() -> None:
    """A candidate that gains on the many en rows and loses on the few zh rows is not 'better'."""
    import numpy as np

    from shopintent.text.rejection import accuracy_by_language, selection_score

    texts = ["where is my order"] * 9 + ["我要退货"]
    expected = np.array(["track_order"] * 9 + ["get_refund"])
    en_gainer = np.array(["track_order"] * 9 + ["oos"])  # 0.9 plain accuracy, zh wrong
    balanced = np.array(["track_order"] * 8 + ["oos", "get_refund"])  # 0.9 plain, zh right
    gainer = {"validation_accuracy": 0.9,
              "validation_accuracy_by_language": accuracy_by_language(texts, en_gainer, expected)}
    other = {"validation_accuracy": 0.9,
             "validation_accuracy_by_language": accuracy_by_language(texts, balanced, expected)}
    assert gainer["validation_accuracy_by_language"] == {"zh": 0.0, "en": 1.0}
    assert selection_score(gainer) == 0.5
    assert selection_score(other) > selection_score(gainer)
    # a model saved before the per-language record: its plain validation accuracy
    assert selection_score({"validation_accuracy": 0.97}) == 0.97
    assert selection_score({}) is None
