"""Sentiment with neutral and unsure: plain questions and gibberish are not positive, reviews keep their label.

The model is the default recipe (``defaults.train_sentiment``) on a small,
evenly spaced slice of every real source, so these tests pin the recipe's
behaviour in seconds rather than the full model's numbers (those are in
``shopintent bench sentiment``).
"""

from __future__ import annotations

import copy
import doctest
from pathlib import Path

import numpy as np
import pytest

from shopintent.evaluation.bench import model_dir
from shopintent.evaluation.benchmarks import sentiment as sentiment_bench
from shopintent.settings import Settings
from shopintent.text import abstain, defaults, recipes
from shopintent.text.abstain import choose_precision_threshold
from shopintent.text.ensemble import load_text_classifier
from shopintent.text.intent import IntentClassifier
from shopintent.text.parse import Parser

ROWS_PER_PART = 400
NOT_REVIEWS = ["asdfgh", "where is my package", "我的快递到哪了"]
CLEAR_REVIEWS = {
    "质量太差了，用了两天就坏了，非常失望": "negative",
    "非常好用，物流也快，很满意，推荐购买": "positive",
    "I love my echo, works great and the sound is amazing": "positive",
    "Terrible product, stopped working after a week. Waste of money": "negative",
}


@pytest.fixture(scope="module")
def splits(session_settings: Settings) -> dict[str, recipes.TextSplit]:
    """The default sentiment rows, at most ``ROWS_PER_PART`` of each train/validation part."""
    return recipes.three_way_sentiment_splits(
        session_settings,
        defaults.SENTIMENT_TRAIN_ROWS,
        defaults.SENTIMENT_ZH_VALIDATION_ROWS,
        rows_per_part=ROWS_PER_PART,
    )


@pytest.fixture(scope="module")
def neutral(session_settings: Settings) -> dict[str, dict[str, recipes.TextSplit]]:
    return recipes.neutral_splits(session_settings)


@pytest.fixture(scope="module")
def sentiment(session_settings: Settings, splits: dict[str, recipes.TextSplit]) -> IntentClassifier:
    """The default sentiment model (``train_sentiment``'s fit) on the small slice."""
    return defaults.fit_sentiment(splits, session_settings.state_dir)


def test_module_examples_hold() -> None:
    assert doctest.testmod(abstain).failed == 0
    assert doctest.testmod(sentiment_bench).failed == 0


def test_plain_questions_and_gibberish_are_neutral_or_unsure(sentiment: IntentClassifier) -> None:
    predicted = sentiment.predict_with_confidence(NOT_REVIEWS)
    for text, (label, confidence) in zip(NOT_REVIEWS, predicted, strict=True):
        assert label in ("neutral", "unsure"), f"{text!r} came out {label} ({confidence:.3f})"


def test_clear_reviews_keep_their_label(sentiment: IntentClassifier) -> None:
    texts = list(CLEAR_REVIEWS)
    predicted = [label for label, _ in sentiment.predict_with_confidence(texts)]
    assert predicted == list(CLEAR_REVIEWS.values())


def test_held_out_neutral_rows_come_out_neutral(
    sentiment: IntentClassifier, neutral: dict[str, dict[str, recipes.TextSplit]]
) -> None:
    texts = [t for source in neutral.values() for t in source["test"].texts[::25]]
    predicted = np.array(sentiment.predict(texts))
    assert len(texts) > 100
    assert (predicted == "neutral").mean() >= 0.8
    assert (predicted == "positive").mean() <= 0.05


def test_neutral_splits_are_labelled_neutral_and_hold_their_test_rows_out(
    neutral: dict[str, dict[str, recipes.TextSplit]],
) -> None:
    assert set(neutral) == set(recipes.NEUTRAL_SOURCES)
    for source, splits in neutral.items():
        for split in ("train", "validation", "test"):
            assert len(splits[split]) > 0 and set(splits[split].labels) == {"neutral"}, (
                source,
                split,
            )
    smp = neutral["smp2019_zh_intent"]  # no official split: ours must not leak
    assert not set(smp["test"].texts) & (set(smp["train"].texts) | set(smp["validation"].texts))
    assert len(smp["test"]) == recipes.NEUTRAL_SMP_TEST
    bitext_train = " ".join(neutral["bitext_customer_service"]["train"].texts).lower()
    assert "damn" not in bitext_train and "complaint" not in bitext_train


def test_abstention_threshold_reaches_the_target_on_validation(
    sentiment: IntentClassifier,
) -> None:
    metrics = sentiment.metrics_
    assert sentiment.oos_label == defaults.SENTIMENT_UNSURE
    assert set(sentiment.classes_) == {"positive", "negative", "neutral"}
    assert metrics["precision_target"] == defaults.SENTIMENT_PRECISION_TARGET
    assert metrics["validation_precision_answered"] >= defaults.SENTIMENT_PRECISION_TARGET
    assert 0.0 <= metrics["validation_ece"] < 0.1


def test_a_stricter_target_raises_the_threshold_and_answers_less(
    sentiment: IntentClassifier, splits: dict[str, recipes.TextSplit]
) -> None:
    valid = splits["validation"]
    strict = abstain.set_abstention(copy.deepcopy(sentiment), valid.texts, valid.labels, 0.99)
    assert strict.threshold_ > sentiment.threshold_
    assert strict.metrics_["validation_precision_answered"] >= 0.99
    assert strict.metrics_["validation_coverage"] < sentiment.metrics_["validation_coverage"]
    # below the threshold: unsure, with the probability mass outside the best class as confidence
    just_below = strict.threshold_ - 0.01
    row = np.full(3, (1.0 - just_below) / 2)
    row[list(strict.classes_).index("positive")] = just_below
    ((label, confidence),) = strict.decide_with_confidence(row[None, :])
    assert label == "unsure"
    assert confidence == pytest.approx(1.0 - just_below)


def test_saved_sentiment_model_round_trips(
    sentiment: IntentClassifier, session_settings: Settings, tmp_path: Path
) -> None:
    texts = NOT_REVIEWS + list(CLEAR_REVIEWS)
    path = sentiment.save(tmp_path / "sentiment")
    loaded = load_text_classifier(path, cache_dir=session_settings.state_dir)
    assert loaded.oos_label == "unsure"
    assert loaded.threshold_ == pytest.approx(sentiment.threshold_)
    assert loaded.temperature_ == pytest.approx(sentiment.temperature_)
    assert loaded.metrics_["precision_target"] == defaults.SENTIMENT_PRECISION_TARGET
    before, after = sentiment.predict_with_confidence(texts), loaded.predict_with_confidence(texts)
    assert [label for label, _ in after] == [label for label, _ in before]
    np.testing.assert_allclose([c for _, c in after], [c for _, c in before], rtol=1e-5)


def test_parse_reports_unsure_or_neutral_for_gibberish(sentiment: IntentClassifier) -> None:
    result = Parser(sentiment_model=sentiment).parse("asdfgh").as_dict()
    assert result["sentiment"] in ("neutral", "unsure")
    assert 0.0 < result["sentiment_confidence"] <= 1.0


def test_precision_threshold_is_the_lowest_confidence_reaching_the_target() -> None:
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 1, 1, 1, 0, 0])
    assert choose_precision_threshold(confidence, correct, 0.95) == 0.8
    assert choose_precision_threshold(confidence, correct, 0.75) == 0.7
    assert choose_precision_threshold(confidence, np.ones(6), 0.95) == 0.0


def test_precision_threshold_treats_tied_confidences_together() -> None:
    # keeping one 0.8 row keeps both: 2 of 3 right, under 0.9, so the threshold stays at 0.9
    assert choose_precision_threshold(np.array([0.9, 0.8, 0.8]), np.array([1, 1, 0]), 0.9) == 0.9


def test_precision_threshold_with_no_reaching_threshold_keeps_only_the_top() -> None:
    assert choose_precision_threshold(np.array([0.7, 0.6]), np.array([0, 0]), 0.9) == 0.7


def test_precision_threshold_refuses_a_target_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="target precision 1.5"):
        choose_precision_threshold(np.array([0.5]), np.array([1]), 1.5)
    with pytest.raises(ValueError, match="no validation rows"):
        choose_precision_threshold(np.array([]), np.array([]), 0.9)


def test_bench_steps_score_the_small_model_and_save_in_their_own_folder(
    session_settings: Settings,
    sentiment: IntentClassifier,
    neutral: dict[str, dict[str, recipes.TextSplit]],
) -> None:
    """The benchmark's named steps on the small model: shares are shares, every source and kind is
    reported, and the model goes to the benchmark's folder, not the service's default."""
    small = {source: {part: recipes.spaced_rows(split, 40) for part, split in parts.items()}
             for source, parts in neutral.items()}
    neutral_rows = sentiment_bench._neutral_rows(sentiment, sentiment, small)
    assert len(neutral_rows) == 2 * len(small)
    gibberish_rows = sentiment_bench._gibberish_rows(sentiment, sentiment)
    assert len(gibberish_rows) == len(sentiment_bench.GIBBERISH_KINDS) + 1
    assert all(0.0 <= m.value <= 1.0 for m in neutral_rows + gibberish_rows)
    calibration = sentiment_bench._calibration_rows(
        session_settings, sentiment, [parts["test"] for parts in small.values()], train_seconds=1.0)
    by_name = {m.name: m.value for m in calibration}
    assert 0.0 <= by_name["coverage (share not unsure)"] <= 1.0
    assert 0.0 <= by_name["ECE, calibrated top probability"] <= 1.0
    folder = model_dir(session_settings, "sentiment", "sentiment")
    assert folder != defaults.model_path(session_settings, "sentiment")
    assert Path(session_settings.state_dir) / "bench" in folder.parents
