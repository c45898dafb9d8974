"""Sentiment benchmark: positive / negative / neutral with ``unsure``, on test splits only.

Protocol (every row names its split, seed and size in its detail; data SHA-256 in the record):

- The default model is trained by ``text.defaults.train_sentiment`` exactly as
  on first use (zh reviews bounded to ``SENTIMENT_TRAIN_ROWS``), and saved
  under ``<state_dir>/text/models/sentiment`` so ``parse`` uses it afterwards.
- Reviews: online_shopping_10_cats fixed stratified 10 % test and
  amazon_alexa_reviews stratified 20 % test (``recipes``; seed 20240601),
  scored as positive/negative: a review the model calls ``neutral`` or
  ``unsure`` counts as wrong in accuracy; macro-F1 is over the two polar
  labels. The binary model the default used to be (same review rows, no
  neutral class, no abstention) is trained in the same run, so the cost of
  the neutral class is read off side by side.
- Neutral recall: each neutral source's own test rows (``recipes.neutral_splits``),
  never trained or calibrated on (amazon_qa: questions about products none of
  whose questions were trained on).
- Gibberish: ``GIBBERISH_PER_KIND`` seeded strings of each kind
  (:func:`gibberish`); the share that comes out neutral or unsure.
- Calibration: ECE (15 bins) of the calibrated top probability on all
  review + neutral test rows; the precision and coverage the validation
  threshold reaches on test, for the default precision target and for
  ``OTHER_TARGETS`` (each threshold chosen on the same validation rows).
"""

from __future__ import annotations

import string
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from shopintent.datasets import (
    amazon_alexa_reviews,
    amazon_qa,
    bitext_customer_service,
    clinc150,
    online_shopping_10_cats,
    smp2019_zh_intent,
    zh_ecommerce_ner_ding2019,
)
from shopintent.evaluation.bench import BenchResult, Measurement, model_dir
from shopintent.log import get_logger
from shopintent.metrics import expected_calibration_error
from shopintent.settings import Settings
from shopintent.text import defaults, recipes
from shopintent.text.abstain import choose_precision_threshold
from shopintent.text.calibration import ECE_BINS
from shopintent.text.intent import IntentClassifier

log = get_logger(__name__)

GIBBERISH_SEED = 1_212
GIBBERISH_PER_KIND = 100
#: Validation precision targets whose test precision / coverage are reported beside the default's.
OTHER_TARGETS = (0.95, 0.99)
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
POLAR = ["positive", "negative"]


def _sha(spec: Any) -> str:
    return ",".join(f.sha256 for f in spec.files)


def _latin(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(string.ascii_lowercase), size=int(rng.integers(3, 13))))


def _keyboard_mash(rng: np.random.Generator) -> str:
    row = KEYBOARD_ROWS[int(rng.integers(len(KEYBOARD_ROWS)))]
    start = int(rng.integers(0, len(row) - 2))
    run = row[start : start + int(rng.integers(3, len(row) - start + 1))]
    style = int(rng.integers(3))
    if style == 0:  # a slide along one row, maybe typed twice: "asdfgh", "sdfsdf"
        return run * int(rng.integers(1, 3))
    if style == 1:  # two neighbouring keys hammered: "jkjkjk"
        return run[:2] * int(rng.integers(2, 5))
    mixed = list(run + KEYBOARD_ROWS[int(rng.integers(len(KEYBOARD_ROWS)))][: len(run)])
    rng.shuffle(mixed)  # a palm on the keyboard: "dfgcvb" shuffled
    return "".join(mixed)


def _cjk(rng: np.random.Generator) -> str:
    return "".join(chr(int(c)) for c in rng.integers(0x4E00, 0x9FA6, size=int(rng.integers(2, 9))))


def _symbols(rng: np.random.Generator) -> str:
    alphabet = list(string.ascii_letters + string.digits + "!#$%&*+-/=?@^_~")
    return "".join(rng.choice(alphabet, size=int(rng.integers(4, 13))))


GIBBERISH_KINDS = {
    "random Latin letters": _latin,
    "keyboard mashes": _keyboard_mash,
    "random CJK characters": _cjk,
    "letters, digits and symbols": _symbols,
}


def gibberish(
    per_kind: int = GIBBERISH_PER_KIND, seed: int = GIBBERISH_SEED
) -> dict[str, list[str]]:
    """``per_kind`` distinct made-up strings of each kind, the same for the same seed.

    >>> strings = gibberish(3, seed=0)
    >>> sorted(strings) == sorted(GIBBERISH_KINDS) and all(len(v) == 3 for v in strings.values())
    True
    >>> strings == gibberish(3, seed=0)
    True
    """
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {}
    for kind, make in GIBBERISH_KINDS.items():
        found: dict[str, None] = {}
        while len(found) < per_kind:
            found.setdefault(make(rng))
        out[kind] = list(found)
    return out


def _binary_baseline(settings: Settings, zh_rows: int | None) -> IntentClassifier:
    """The default as it was before issue 12: pos/neg only, no neutral rows, never abstains."""
    zh, en = recipes.zh_sentiment_splits(settings), recipes.en_sentiment_splits(settings)
    zh_train = zh["train"]
    if zh_rows is not None:
        zh_train = recipes.TextSplit(zh_train.texts[:zh_rows], zh_train.labels[:zh_rows])
    rows = defaults.SENTIMENT_ZH_VALIDATION_ROWS
    return IntentClassifier(
        cache_dir=settings.state_dir, random_state=recipes.SEED, oos_label="__none__", refit=False
    ).fit(
        zh_train.texts + en["train"].texts,
        zh_train.labels + en["train"].labels,
        zh["validation"].texts[:rows] + en["validation"].texts,
        zh["validation"].labels[:rows] + en["validation"].labels,
    )


def _sizes(splits: dict[str, recipes.TextSplit]) -> str:
    return "/".join(f"{len(splits[s]):,}" for s in ("train", "validation", "test"))


def _review_rows(
    name: str, model: IntentClassifier, test: recipes.TextSplit, detail: str, out: list[Measurement]
) -> None:
    predicted = np.array(
        [label for label, _ in model.predict_with_confidence(test.texts)], dtype=object
    )
    truth = np.array(test.labels, dtype=object)
    answered = np.isin(predicted, POLAR)
    out += [
        Measurement(
            f"{name} accuracy",
            float((predicted == truth).mean()),
            "accuracy",
            f"{detail}; neutral/unsure on a review counts as wrong",
        ),
        Measurement(
            f"{name} macro-F1",
            float(f1_score(truth, predicted, labels=POLAR, average="macro", zero_division=0)),
            "macro-F1",
            f"{detail}; F1 of positive and negative, averaged",
        ),
    ]
    if model.oos_label == defaults.SENTIMENT_UNSURE:
        out += [
            Measurement(
                f"{name} share called positive or negative",
                float(answered.mean()),
                "share",
                f"{detail}; the rest came out neutral or unsure",
            ),
            Measurement(
                f"{name} accuracy where it answered positive or negative",
                float((predicted[answered] == truth[answered]).mean()) if answered.any() else 0.0,
                "accuracy",
                detail,
            ),
        ]


def _outcome_shares(model: IntentClassifier, texts: Sequence[str]) -> dict[str, float]:
    predicted = np.array(
        [label for label, _ in model.predict_with_confidence(list(texts))], dtype=object
    )
    return {
        label: float((predicted == label).mean())
        for label in ("positive", "negative", "neutral", defaults.SENTIMENT_UNSURE)
    }


def _other_targets(
    settings: Settings,
    model: IntentClassifier,
    confidence: np.ndarray,
    correct: np.ndarray,
    detail: str,
) -> list[Measurement]:
    """Test precision and coverage had the threshold been chosen for a stricter validation target."""
    valid = recipes.three_way_sentiment_splits(
        settings, defaults.SENTIMENT_TRAIN_ROWS, defaults.SENTIMENT_ZH_VALIDATION_ROWS
    )["validation"]
    proba = model.predict_proba(valid.texts)
    valid_correct = model.classes_[proba.argmax(axis=1)] == np.array(valid.labels, dtype=object)
    out = []
    for target in OTHER_TARGETS:
        threshold = choose_precision_threshold(proba.max(axis=1), valid_correct, target)
        kept = confidence >= threshold
        out += [
            Measurement(
                f"precision where it answered — validation target {target}",
                float(correct[kept].mean()) if kept.any() else 0.0,
                "precision",
                f"{detail}; threshold {threshold:.4f} chosen on the same validation rows",
            ),
            Measurement(
                f"coverage — validation target {target}", float(kept.mean()), "share", detail
            ),
        ]
    return out


def _neutral_rows(
    model: IntentClassifier, baseline: IntentClassifier, neutral: dict[str, dict[str, recipes.TextSplit]]
) -> list[Measurement]:
    """Per neutral source's test rows: how often the 3-way model says neutral (or unsure)."""
    out: list[Measurement] = []
    for source, splits in neutral.items():
        shares = _outcome_shares(model, splits["test"].texts)
        old = _outcome_shares(baseline, splits["test"].texts)
        detail = (
            f"{source} neutral rows, test split never trained on (train/val/test {_sizes(splits)}); "
            f"positive {shares['positive']:.3f}, negative {shares['negative']:.3f}, unsure "
            f"{shares[defaults.SENTIMENT_UNSURE]:.3f}; binary model called {old['positive']:.3f} positive"
        )
        out += [
            Measurement(f"neutral recall — {source}", shares["neutral"], "recall", detail),
            Measurement(
                f"neutral or unsure — {source}",
                shares["neutral"] + shares[defaults.SENTIMENT_UNSURE],
                "share",
                detail,
            ),
        ]
    return out


def _gibberish_rows(model: IntentClassifier, baseline: IntentClassifier) -> list[Measurement]:
    """Made-up strings of each kind: the share answered neutral or unsure (the binary model's positives)."""
    strings = gibberish()
    every = [s for kind in strings.values() for s in kind]
    out: list[Measurement] = []
    for kind, texts in {**strings, "all kinds": every}.items():
        shares, old = _outcome_shares(model, texts), _outcome_shares(baseline, texts)
        out.append(
            Measurement(
                f"gibberish neutral or unsure — {kind}",
                shares["neutral"] + shares[defaults.SENTIMENT_UNSURE],
                "share",
                f"{len(texts)} strings, seed {GIBBERISH_SEED}; neutral {shares['neutral']:.3f}, unsure "
                f"{shares[defaults.SENTIMENT_UNSURE]:.3f}, positive {shares['positive']:.3f}; binary model "
                f"called {old['positive']:.3f} positive",
            )
        )
    return out


def _calibration_rows(
    settings: Settings,
    model: IntentClassifier,
    test_splits: Sequence[recipes.TextSplit],
    train_seconds: float,
) -> list[Measurement]:
    """ECE, precision where answered, coverage and train time over every review and neutral test row."""
    test_texts = [text for split in test_splits for text in split.texts]
    truth = np.array([label for split in test_splits for label in split.labels], dtype=object)
    proba = model.predict_proba(test_texts)
    correct = model.classes_[proba.argmax(axis=1)] == truth
    confidence = proba.max(axis=1)
    kept = confidence >= model.threshold_
    all_detail = f"all {len(truth):,} review + neutral test rows above"
    metrics = model.metrics_
    return [
        Measurement(
            "ECE, calibrated top probability",
            expected_calibration_error(correct, confidence, n_bins=ECE_BINS),
            "ECE (15 bins)",
            f"{all_detail}; temperature {model.temperature_:.3f} fitted on "
            f"{metrics['validation_rows']:,} validation rows (validation ECE "
            f"{metrics['validation_ece']:.4f})",
        ),
        Measurement(
            "precision where it answered (not unsure)",
            float(correct[kept].mean()),
            "precision",
            f"{all_detail}; threshold {model.threshold_:.4f} chosen on validation for precision "
            f"≥ {defaults.SENTIMENT_PRECISION_TARGET} (validation: "
            f"{metrics['validation_precision_answered']:.4f} at coverage "
            f"{metrics['validation_coverage']:.4f})",
        ),
        Measurement("coverage (share not unsure)", float(kept.mean()), "share", all_detail),
        *_other_targets(settings, model, confidence, correct, all_detail),
        Measurement(
            "accuracy with no abstention (3 classes)", float(correct.mean()), "accuracy", all_detail
        ),
        Measurement(
            "train time (3-way default)",
            train_seconds,
            "s",
            f"{model.n_train_:,} training rows; 2 shared cores; includes encoding (cached after first run)",
        ),
    ]


def run(settings: Settings) -> BenchResult:
    """Train the default sentiment recipe and its binary predecessor; score both on the test rows.

    The model is saved under :func:`bench.model_dir`, never over the service's default.
    """
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    zh, en = recipes.zh_sentiment_splits(settings), recipes.en_sentiment_splits(settings)
    neutral = recipes.neutral_splits(settings)
    zh_rows = defaults.SENTIMENT_TRAIN_ROWS
    t0 = time.perf_counter()
    model = defaults.train_sentiment(settings, zh_rows=zh_rows)
    train_seconds = time.perf_counter() - t0
    model.save(model_dir(settings, "sentiment", "sentiment"))
    baseline = _binary_baseline(settings, zh_rows)
    out: list[Measurement] = []

    zh_detail = (
        f"online_shopping_10_cats fixed stratified 10% test (train/val/test {_sizes(zh)}; "
        f"first {zh_rows:,} train rows used), split seed {recipes.SENTIMENT_SPLIT_SEED}"
    )
    en_detail = (
        f"amazon_alexa_reviews stratified 20% test (train/val/test {_sizes(en)}), split seed "
        f"{recipes.SENTIMENT_SPLIT_SEED}; 92% positive"
    )
    for name, fitted in (("3-way default", model), ("binary pos/neg (the old default)", baseline)):
        _review_rows(f"zh reviews — {name}:", fitted, zh["test"], zh_detail, out)
        _review_rows(f"en reviews — {name}:", fitted, en["test"], en_detail, out)
    out += _neutral_rows(model, baseline, neutral)
    out += _gibberish_rows(model, baseline)
    test_splits = [zh["test"], en["test"], *(splits["test"] for splits in neutral.values())]
    out += _calibration_rows(settings, model, test_splits, train_seconds)
    return BenchResult(
        area="sentiment",
        measurements=out,
        data={
            "online_shopping_10_cats": _sha(online_shopping_10_cats.SPEC),
            "amazon_alexa_reviews": _sha(amazon_alexa_reviews.SPEC),
            "clinc150": _sha(clinc150.SPEC),
            "bitext_customer_service": _sha(bitext_customer_service.SPEC),
            "smp2019_zh_intent": _sha(smp2019_zh_intent.SPEC),
            "zh_ecommerce_ner_ding2019": _sha(zh_ecommerce_ner_ding2019.SPEC),
            "amazon_qa": _sha(amazon_qa.SPEC),
        },
        parameters={
            "seed": recipes.SEED,
            "sentiment_split_seed": recipes.SENTIMENT_SPLIT_SEED,
            "gibberish_seed": GIBBERISH_SEED,
            "zh_train_rows": zh_rows,
            "precision_target": defaults.SENTIMENT_PRECISION_TARGET,
            "threshold": round(model.threshold_, 4),
            "temperature": round(model.temperature_, 4),
            "model": "USE-multilingual + TF-IDF char 1-4 + LinearSVC(C=1), no refit",
            "runtime_s": round(time.perf_counter() - started, 1),
        },
        notes=(
            "Neutral means 'not a review' (requests, questions, commands, product searches), not a "
            "lukewarm review: the Alexa copy has no 3-star ratings to learn one from. See docs/text.md."
        ),
    )
