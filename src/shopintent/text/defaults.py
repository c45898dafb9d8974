"""The default text models ``parse`` uses: how they are trained, where they live, how they load.

Why: the HTTP service and the CLI call ``parse(text)`` with no model path.
The defaults live under ``<state_dir>/text/models/<name>/`` (each a saved
estimator with its ``model.json`` and manifest); a missing one, or one saved
by an older shopintent, is trained from the public data on first use
(``recipes`` says which rows) and saved, so later processes only load it. ``shopintent bench text`` also writes them.

First-use training times on 2 shared CPU cores, one thread (measured, see
docs/text.md): shop intents (fine-tuned USE + ONNX export) ≈ 40 s (the linear alternative 24 s with a warm embedding
cache), sentiment ≈ 4–6 min cold (encoding 22k reviews dominates), zh NER
≈ 1.5 min, en slots ≈ 25 s. Set ``train_missing=False`` to get only what
already exists (rule slots always work).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shopintent.log import get_logger
from shopintent.persist import MANIFEST_FILE, MODEL_FILE, LegacyModelError, has_manifest
from shopintent.settings import Settings
from shopintent.text import recipes
from shopintent.text.intent import IntentClassifier, data_checksum

if TYPE_CHECKING:
    from shopintent.text.finetune import FineTunedClassifier
from shopintent.text.tagger import SlotTagger

log = get_logger(__name__)

COMPONENTS = ("shop_intent", "sentiment", "ner_zh", "slots_en")
#: zh reviews the default sentiment model trains on (bounded so first use stays a few minutes).
SENTIMENT_TRAIN_ROWS = 20_000
#: zh validation reviews the sentiment model calibrates on (beside all en and neutral validation rows).
SENTIMENT_ZH_VALIDATION_ROWS = 2_000
#: Validation precision the sentiment model's answers must reach; below the chosen confidence it says ``unsure``.
SENTIMENT_PRECISION_TARGET = 0.97
#: The sentiment model's abstention label.
SENTIMENT_UNSURE = "unsure"
#: Most fine-tuning epochs of the default shop-intent model (best on validation kept).
SHOP_INTENT_EPOCHS = 6

_lock = threading.Lock()


def models_dir(settings: Settings) -> Path:
    """Where the default text models of a state folder live."""
    return Path(settings.state_dir) / "text" / "models"


def model_path(settings: Settings, component: str) -> Path:
    """The folder of one default model."""
    if component not in COMPONENTS:
        raise ValueError(
            f"unknown text component {component!r}; choose one of {', '.join(COMPONENTS)}"
        )
    return models_dir(settings) / component


def train_shop_intent(settings: Settings) -> FineTunedClassifier:
    """Bitext's 27 support intents + out-of-scope rejection (zh and en): fine-tuned USE on ONNX Runtime.

    Why this model: it is as accurate as the linear USE + TF-IDF model on this
    data and, exported to int8 ONNX, answers a query in well under a
    millisecond (see BENCHMARKS.md), which is what the service's
    ``/v1/intent`` needs. The ONNX graph is checked on validation rows only.
    """
    from shopintent.text.finetune import FineTunedClassifier

    splits = recipes.shop_intent_splits(settings)
    train, valid = splits["train"], splits["validation"]
    model = FineTunedClassifier(
        backbone="use", epochs=SHOP_INTENT_EPOCHS, threads=2, random_state=recipes.SEED
    )
    model.fit(train.texts, train.labels, valid.texts, valid.labels)
    with tempfile.TemporaryDirectory() as scratch:
        model.export_onnx(scratch, valid.texts, valid.labels)
        model.save(model_path(settings, "shop_intent"))
    return model


def train_sentiment(
    settings: Settings,
    zh_rows: int | None = SENTIMENT_TRAIN_ROWS,
    rows_per_part: int | None = None,
) -> IntentClassifier:
    """Positive / negative / neutral for zh and en text in one model, and ``unsure`` when it cannot tell.

    Why three classes: a binary review model calls everything positive or
    negative, so "where is my package" and "asdfgh" came out positive. Neutral
    rows are real text with no opinion (``recipes.neutral_splits``: requests,
    product questions, commands and product searches), so neutral means "not a
    review", not "a lukewarm review". Reviews: online_shopping_10_cats (zh,
    first ``zh_rows`` training rows) and amazon_alexa_reviews (en).

    Calibration and ``unsure``: the temperature is fitted on validation rows
    (``SENTIMENT_ZH_VALIDATION_ROWS`` zh reviews + all en and neutral
    validation rows, ``recipes.three_way_sentiment_splits``); then
    ``abstain.set_abstention`` picks the lowest calibrated confidence at
    which the validation answers are right
    ``SENTIMENT_PRECISION_TARGET`` of the time, and below it the model answers
    ``unsure``. It does not reuse the out-of-scope rule (which needs
    validation rows labelled out-of-scope): made-up gibberish rows there would
    tune the threshold on the strings the benchmark tests. No refit: the
    threshold holds for the model as saved.

    ``rows_per_part`` keeps at most that many evenly spaced rows of every
    train and validation part (each review set, each neutral source): the
    same recipe on a small slice, for tests.
    """
    splits = recipes.three_way_sentiment_splits(
        settings, zh_rows, SENTIMENT_ZH_VALIDATION_ROWS, rows_per_part
    )
    return fit_sentiment(splits, settings.state_dir)


def fit_sentiment(splits: dict[str, recipes.TextSplit], cache_dir: Path) -> IntentClassifier:
    """The sentiment model of :func:`train_sentiment` on given ``train`` / ``validation`` rows."""
    from shopintent.text.abstain import set_abstention

    train, valid = splits["train"], splits["validation"]
    model = IntentClassifier(
        cache_dir=cache_dir,
        random_state=recipes.SEED,
        oos_label=SENTIMENT_UNSURE,
        refit=False,
    ).fit(train.texts, train.labels, valid.texts, valid.labels)
    set_abstention(model, valid.texts, valid.labels, SENTIMENT_PRECISION_TARGET)
    return model


def train_ner_zh(
    settings: Settings, epochs: int = 10, max_seconds: float | None = 900
) -> SlotTagger:
    """Chinese product-type / brand tagger on Ding et al. train, best epoch on dev."""
    splits, gazetteers = recipes.zh_ner_splits(settings)
    tagger = SlotTagger(
        mode="char", epochs=epochs, random_state=recipes.SEED, max_train_seconds=max_seconds
    )
    return tagger.fit(
        splits["train"].texts,
        splits["train"].spans,
        splits["validation"].texts,
        splits["validation"].spans,
        gazetteers=gazetteers,
    )


def train_slots_en(
    settings: Settings, epochs: int = 4, max_seconds: float | None = 600
) -> SlotTagger:
    """English support-message entities (order_id, refund_amount, delivery_city, …) on Bitext."""
    splits = recipes.en_slot_splits(settings)
    tagger = SlotTagger(
        mode="word", epochs=epochs, random_state=recipes.SEED, max_train_seconds=max_seconds
    )
    return tagger.fit(
        splits["train"].texts,
        splits["train"].spans,
        splits["validation"].texts,
        splits["validation"].spans,
    )


def _save_tagger(tagger: SlotTagger, path: Path, texts: list[str]) -> None:
    tagger.save(path, data_checksum=data_checksum(texts, [""] * len(texts)))


TRAINERS: dict[str, Callable[[Settings], object]] = {
    "shop_intent": train_shop_intent,
    "sentiment": train_sentiment,
    "ner_zh": train_ner_zh,
    "slots_en": train_slots_en,
}


def ensure_model(settings: Settings, component: str, train_missing: bool = True):  # type: ignore[no-untyped-def]
    """Load a default model, training and saving it first when absent and ``train_missing``.

    Returns ``None`` when the model is absent and training is not allowed.
    """
    from shopintent.text.ensemble import load_text_classifier

    path = model_path(settings, component)
    with _lock:
        if (path / MODEL_FILE).is_file():
            try:
                if not has_manifest(path):  # an older shopintent's save, or one cut short
                    raise LegacyModelError(path, MANIFEST_FILE, "missing", "re-train it")
                if component in ("ner_zh", "slots_en"):
                    return SlotTagger.load(path)
                return load_text_classifier(path, cache_dir=settings.state_dir)
            except LegacyModelError as exc:
                # a cached default in an old format is ours to replace; a tampered one is refused
                log.warning("default text model in an old format", component=component,
                            path=str(path), reason=str(exc), retrain=train_missing)
                if not train_missing:
                    return None
                shutil.rmtree(path)
        if not train_missing:
            return None
        log.info("training default text model (first use)", component=component, path=str(path))
        model = TRAINERS[component](settings)
        if isinstance(model, SlotTagger):
            texts = (
                recipes.zh_ner_splits(settings)[0]["train"].texts
                if component == "ner_zh"
                else recipes.en_slot_splits(settings)["train"].texts
            )
            _save_tagger(model, path, texts)
        elif component != "shop_intent":  # the shop-intent trainer saves its ONNX graph itself
            model.save(path)  # type: ignore[attr-defined]
        return model
