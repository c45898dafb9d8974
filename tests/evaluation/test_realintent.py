"""bench realintent: scoring on the real-text set, and a run over a model saved where the service finds it."""

from __future__ import annotations

import doctest
from collections import defaultdict

from shopintent.evaluation.benchmarks import realintent
from shopintent.settings import Settings
from shopintent.text import defaults, evalsets, recipes
from shopintent.text.intent import IntentClassifier


def test_module_example_runs() -> None:
    assert doctest.testmod(realintent).failed == 0


def test_product_questions_count_as_errors_and_are_also_left_out_in_their_own_number() -> None:
    gold = ["oos", "oos", "track_order", "get_refund", "product_question", "product_question"]
    said = ["oos", "track_order", "track_order", "complaint", "oos", "delivery_options"]
    s = realintent.score(gold, said)
    assert (s.rows, s.accuracy) == (6, 2 / 6)
    assert (s.rows_without_product_question, s.accuracy_without_product_question) == (4, 0.5)
    assert (s.oos_recall, s.oos_precision) == (0.5, 0.5)
    assert (s.shop_intent_rows, s.shop_intent_accuracy) == (2, 0.5)
    assert (s.product_question_rows, s.product_question_answered_oos) == (2, 0.5)
    assert s.recall_by_label["oos"] == (1, 2)
    assert ("get_refund", "complaint", 1) in s.confusions


def test_measurements_say_when_a_label_is_not_a_class_of_the_model() -> None:
    s = realintent.score(["product_question"] * 10 + ["oos"] * 10, ["oos"] * 20)
    by_name = {m.name: m for m in realintent._measurements("en", s, {"oos", "track_order"})}
    assert by_name["en: accuracy, all rows"].value == 0.5
    assert "product_question rows count as errors" in by_name["en: accuracy, all rows"].detail
    assert by_name["en: accuracy without product_question rows"].value == 1.0
    assert by_name["en: recall product_question"].value == 0.0
    assert "en: accuracy on shop-intent rows" not in by_name  # no such rows: no number


def test_run_scores_the_model_the_service_loads_from_the_state_folder(settings: Settings) -> None:
    # a small TF-IDF model saved as the default shop-intent model: run() must load it, not train
    splits = recipes.shop_intent_splits(settings)
    per_label: dict[str, list[str]] = defaultdict(list)
    for text, label in zip(splits["train"].texts, splits["train"].labels, strict=True):
        if len(per_label[label]) < 30:
            per_label[label].append(text)
    model = IntentClassifier(encoders=(), random_state=0).fit(
        [t for label in per_label for t in per_label[label]],
        [label for label in per_label for _ in per_label[label]],
    )
    model.save(defaults.model_path(settings, "shop_intent"))
    result = realintent.run(settings)
    values = {m.name: m.value for m in result.measurements}
    for language in evalsets.LANGUAGES:
        assert 0.0 <= values[f"{language}: accuracy, all rows"] <= 1.0
        assert f"{language}: OOS recall" in values
        assert result.parameters[f"{language}_rows"] == 330
    assert result.parameters["model_found_saved"] is True  # loaded, not trained
    assert result.parameters["model_is_current_recipe"] is False
    assert result.parameters["model_classes"] == 29  # 27 shop intents, product_question, oos
    assert "ecd_taobao_dialogue_sample/test" in result.data


def test_run_without_a_default_trains_into_its_own_folder_not_the_services(
    settings: Settings, monkeypatch
) -> None:
    # a tiny real model stands in for the recipe's: what matters is where it is saved
    splits = recipes.shop_intent_splits(settings)
    small = recipes.spaced_rows(splits["train"], 400)
    monkeypatch.setattr(
        defaults, "train_shop_intent_linear",
        lambda s: IntentClassifier(encoders=(), random_state=0).fit(small.texts, small.labels),
    )
    live = defaults.model_path(settings, "shop_intent")
    if live.exists():
        import shutil

        shutil.rmtree(live)
    model, found = realintent.load_or_train(settings)
    assert found is False and not live.exists()
    assert (realintent.bench_model_path(settings) / "model.json").is_file()
    assert set(model.classes_) == set(small.labels)
