"""The default text models ``parse`` uses: how they are trained, where they live, how they load.

Why: the HTTP service and the CLI call ``parse(text)`` with no model path.
The defaults live under ``<state_dir>/text/models/<name>/`` (each a saved
estimator with its ``model.json`` and manifest). ``shopintent models prepare``
trains the missing ones from the public data (``recipes`` says which rows) in
its own process before the service starts; the service only loads
(``train_missing=False``: what is absent stays absent, rule slots always work).
A CLI call of ``parse`` still trains what is missing on first use.

The shop-intent default is the fast one first: the linear model (frozen USE +
TF-IDF + linear SVM, :func:`train_shop_intent_linear`), which trains in under a
minute on 2 cores. The fine-tuned USE model (:func:`train_shop_intent`, minutes)
is trained into its own folder (:func:`candidate_path`) and becomes the default
only when its validation score (zh and en weighed equally) is higher (:func:`promote_if_better`).
Training times measured here are in README.md (``shopintent models prepare``).
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
from shopintent.text.model_paths import (  # noqa: F401 - re-exported: the paths were defined here
    COMPONENTS,
    SHOP_INTENT_CANDIDATE,
    candidate_path,
    model_path,
    models_dir,
)

if TYPE_CHECKING:
    from shopintent.text.finetune import FineTunedClassifier
from shopintent.text.tagger import SlotTagger

log = get_logger(__name__)

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


def train_shop_intent_linear(settings: Settings) -> IntentClassifier:
    """The fast shop-intent default: frozen USE + TF-IDF features and a linear SVM head, with OOS rejection.

    Its rows (``recipes.shop_intent_splits``) come from several phrasing
    sources, zh and en, with a ``product_question`` intent
    (``text/shop_intent_data.py``; docs/text.md has the table).

    Why the default on a fresh machine: it trains in under a minute on 2
    cores (the fine-tuned model takes minutes) and is at least as accurate on
    the shop-intent test rows (docs/text.md), so the service has its text
    model within the first minutes of ``make demo``.
    """
    splits = recipes.shop_intent_splits(settings)
    train, valid = splits["train"], splits["validation"]
    model = IntentClassifier(cache_dir=settings.state_dir, random_state=recipes.SEED)
    return model.fit(train.texts, train.labels, valid.texts, valid.labels)


def train_shop_intent(
    settings: Settings,
    path: Path | None = None,
    epochs: int | None = None,
    max_rows: int | None = None,
) -> FineTunedClassifier:
    """The shop intents (27 support intents + ``product_question``) with out-of-scope rejection: fine-tuned USE on ONNX Runtime.

    Why this model: exported to int8 ONNX it answers a query in well under a
    millisecond (see BENCHMARKS.md), which is what the service's
    ``/v1/intent`` needs. The ONNX graph is checked on validation rows only.
    Saved to ``path`` (default: the default model's folder, which is what
    ``shopintent bench text`` measures); ``shopintent models prepare`` saves
    it to :func:`candidate_path` and lets :func:`promote_if_better` decide.
    ``epochs`` (default :data:`SHOP_INTENT_EPOCHS`) and ``max_rows`` (at most
    that many evenly spaced training rows, a quarter as many validation rows)
    run the same recipe small, for tests.
    """
    from shopintent.text.finetune import FineTunedClassifier

    splits = recipes.shop_intent_splits(settings)
    train, valid = splits["train"], splits["validation"]
    if max_rows is not None:
        train = recipes.spaced_rows(train, max_rows)
        valid = recipes.spaced_rows(valid, max(1, max_rows // 4))
    model = FineTunedClassifier(
        backbone="use", epochs=epochs or SHOP_INTENT_EPOCHS, threads=2, random_state=recipes.SEED
    )
    model.fit(train.texts, train.labels, valid.texts, valid.labels)
    with tempfile.TemporaryDirectory() as scratch:
        model.export_onnx(scratch, valid.texts, valid.labels)
        model.save(path or model_path(settings, "shop_intent"))
    return model


def _saved_metrics(path: Path) -> dict[str, object] | None:
    """The ``metrics`` a complete save at ``path`` recorded (``None``: no complete save there)."""
    from shopintent.persist import read_json

    if not has_manifest(path):
        return None
    try:
        metrics = read_json(path / MODEL_FILE).get("metrics", {})
    except (OSError, ValueError, AttributeError):
        return None
    return metrics if isinstance(metrics, dict) else None


def selection_score(path: Path) -> float | None:
    """What :func:`promote_if_better` compares: zh and en validation accuracy weighed equally."""
    from shopintent.text.rejection import selection_score as score

    metrics = _saved_metrics(path)
    return None if metrics is None else score(metrics)


def promote_if_better(settings: Settings) -> bool:
    """Copy the fine-tuned candidate over the shop-intent default when its validation score is higher.

    Both are measured on the recipe's validation rows, never on test rows,
    by :func:`selection_score`: the mean of the zh and the en validation
    accuracy. Why not the plain accuracy: most validation rows are English
    (and many template-written), so a candidate that gained on them while
    losing on Chinese won on the plain accuracy (measured: the fine-tuned
    model scored higher on validation and lower on the real zh test text,
    docs/text.md). A tie keeps the live model. The copy is made beside the default and renamed
    into place, so a reader (the service's reload check) sees the old folder
    or the new one, never a half-copied one; the candidate folder stays, so
    the next ``models prepare`` finds it cached.
    """
    live, candidate = model_path(settings, "shop_intent"), candidate_path(settings)
    new_score, live_score = selection_score(candidate), selection_score(live)
    if new_score is None or (live_score is not None and new_score <= live_score):
        log.info("fine-tuned shop-intent model not promoted", candidate=new_score, live=live_score)
        return False
    with _lock:
        incoming, replaced = live.with_name(".shop_intent.incoming"), live.with_name(".shop_intent.old")
        for leftover in (incoming, replaced):
            if leftover.exists():
                shutil.rmtree(leftover)
        shutil.copytree(candidate, incoming)
        if live.exists():
            live.rename(replaced)
        incoming.rename(live)
        shutil.rmtree(replaced, ignore_errors=True)
    log.info("fine-tuned shop-intent model promoted to default", candidate=new_score, live=live_score)
    return True


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
    "shop_intent": train_shop_intent_linear,
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
        log.info("training default text model", component=component, path=str(path))
        model = TRAINERS[component](settings)
        if isinstance(model, SlotTagger):
            texts = (
                recipes.zh_ner_splits(settings)[0]["train"].texts
                if component == "ner_zh"
                else recipes.en_slot_splits(settings)["train"].texts
            )
            _save_tagger(model, path, texts)
        else:
            model.save(path)  # type: ignore[attr-defined]
        return model
