"""The default shop-intent model: fine-tuned, exported to ONNX, saved, and loaded back by ensure_model."""

from __future__ import annotations

import json

import pytest

from shopintent.settings import Settings
from shopintent.text import defaults, recipes
from shopintent.text.finetune import FineTunedClassifier
from shopintent.text.metrics import intent_scores


def test_default_shop_intent_trains_once_saves_onnx_and_loads(
    session_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "SHOP_INTENT_EPOCHS", 1)  # one epoch keeps the test short
    model = defaults.ensure_model(session_settings, "shop_intent", train_missing=True)
    path = defaults.model_path(session_settings, "shop_intent")
    meta = json.loads((path / "model.json").read_text())
    assert meta["kind"] == "FineTunedClassifier" and meta["onnx"] is not None
    loaded = defaults.ensure_model(session_settings, "shop_intent", train_missing=False)
    assert isinstance(loaded, FineTunedClassifier) and loaded.runtime_ is not None
    test = recipes.shop_intent_splits(session_settings)["test"]
    texts, labels = test.texts[::10], test.labels[::10]
    assert loaded.predict(texts) == model.predict(texts)
    scores = intent_scores(labels, loaded.predict(texts))
    assert scores["in_scope_accuracy"] >= 0.9 and scores["oos_recall"] >= 0.7
