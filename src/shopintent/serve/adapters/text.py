"""Text understanding for ``POST /v1/intent`` over the default text models in the state folder.

The service only loads: the models are written by ``shopintent models
prepare`` (in its own process), and while the shop-intent model is missing the
endpoint answers 503 saying so. The other components (sentiment, zh product
tags, en entities) join the parser when their files appear, and a better
shop-intent model promoted by the background fine-tune replaces the live one:
the slot watches the models' manifests and reloads when they change, while
the loaded parser keeps answering.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from shopintent.persist import MANIFEST_FILE, MODEL_FILE, has_manifest, peek_kind
from shopintent.prepare.timings import read_durations
from shopintent.serve.adapters.base import ModelSlot, ModelUnavailable, import_or_unavailable
from shopintent.serve.adapters.convert import plain
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)

#: The parser's components, as ``text.defaults`` names them.
TEXT_COMPONENTS = ("shop_intent", "sentiment", "ner_zh", "slots_en")
NOT_PREPARED = ("the default shop-intent model is not prepared: run `shopintent models prepare` "
                "(the service loads models, it never trains them)")


def text_fingerprint(settings: Settings) -> tuple[float, ...]:
    """Modification times of the text components' manifests (−1 where absent): changes on every save."""
    root = Path(settings.state_dir) / "text" / "models"
    out = []
    for component in TEXT_COMPONENTS:
        manifest = root / component / MANIFEST_FILE
        try:
            out.append(manifest.stat().st_mtime)
        except OSError:
            out.append(-1.0)
    return tuple(out)


def prefetch_intent_tokenizer(settings: Settings) -> bool:
    """Start parsing the USE tokenizer on a side thread when the prepared shop-intent model uses it.

    Called as the service starts, before the other models load, so the GIL-free C++ parse
    (``text.tokenizers.prefetch_tokenizer``) overlaps them. ``model.json`` is only peeked at
    to decide; the load verifies the folder as always. True when a prefetch was started.
    """
    try:
        meta = json.loads((Path(settings.state_dir) / "text" / "models" / "shop_intent" / MODEL_FILE)
                          .read_text(encoding="utf-8"))
        params = meta.get("parameters") or {}
        uses_use = "use" in (params.get("encoders") or ()) or params.get("backbone") == "use"
    except (OSError, ValueError, AttributeError, TypeError):
        return False  # not prepared or unreadable: the load says why
    if uses_use:
        from shopintent.text.tokenizers import prefetch_tokenizer

        prefetch_tokenizer()
    return bool(uses_use)


def served_component(settings: Settings, component: str) -> Any:
    """One prepared text component as the service runs it; ``None`` when it is not prepared.

    A linear shop-intent model (``IntentClassifier``) is loaded as its scikit-learn-free
    :class:`~shopintent.text.intent_scoring.IntentScorer` (same answers); anything else, and
    a folder in an older format, goes through ``text.defaults.ensure_model`` as before, which
    imports the estimators (scikit-learn) only then.
    """
    path = Path(settings.state_dir) / "text" / "models" / component
    if not (path / MODEL_FILE).is_file():
        return None
    if has_manifest(path) and peek_kind(path, "shopintent models prepare") == "IntentClassifier":
        from shopintent.text.intent_scoring import IntentScorer

        return IntentScorer.load(path, cache_dir=settings.state_dir)
    (ensure_model,) = import_or_unavailable("text", "shopintent.text.defaults", ("ensure_model",),
                                            "issue: text")
    return ensure_model(settings, component, train_missing=False)


def text_slot(settings: Settings, intent_encoder: str = "use") -> ModelSlot[Any]:
    """The default parser (language, intent + out-of-scope, slots, sentiment), loaded, never trained.

    ``intent_encoder`` ``"use-int8"`` embeds with the int8 ONNX run of the same USE where the
    linear intent model was fitted on ``"use"`` (``ServeConfig.intent_encoder``) once ``models
    prepare`` has exported its graph; a fine-tuned model has its own network and is served as it is.
    """

    def load() -> tuple[Any, dict[str, Any]]:
        (parser_cls,) = import_or_unavailable("text", "shopintent.text.parse", ("Parser",), "issue: text")
        intent = served_component(settings, "shop_intent")
        if intent is None:
            raise ModelUnavailable("text", NOT_PREPARED)
        featurizer = getattr(intent, "featurizer_", None)
        if intent_encoder != "use" and featurizer is not None and "use" in featurizer.encoders:
            from shopintent.text.use_onnx import graph_ready

            # Exported by `models prepare` (it needs torch, which a service never loads); without
            # it the float encoder the model was trained with answers, and the card says which.
            if graph_ready(Path(settings.state_dir) / "text"):
                featurizer.serve_with({"use": intent_encoder})
            else:
                log.warning("int8 USE graph not prepared: serving the intent model with the float "
                            "encoder (run `shopintent models prepare`)", encoder=intent_encoder)
        parser = parser_cls(
            intent_model=intent,
            sentiment_model=served_component(settings, "sentiment"),
            zh_tagger=served_component(settings, "ner_zh"),
            en_tagger=served_component(settings, "slots_en"),
        )
        model, card = parser_model(parser)
        # how long `models prepare` took to train it here (None: trained elsewhere, e.g. bench text)
        name = "shop_intent_finetuned" if _kind(intent) == "FineTunedClassifier" else "shop_intent"
        trained = read_durations(Path(settings.state_dir)).get(name) or {}
        card["intent_model"]["prepare_seconds"] = trained.get("seconds")
        if featurizer is not None:
            card["intent_model"]["encoders"] = list(featurizer.encoders)
            if intent_encoder in featurizer.encoders:
                card["version"] += f", served with {intent_encoder}"
        return model, card

    return ModelSlot("text", load, watch=lambda: text_fingerprint(settings))


#: The shop-intent model kinds as the dashboard names them.
INTENT_KINDS = {"IntentClassifier": "linear (USE + TF-IDF)",
                "FineTunedClassifier": "fine-tuned USE",
                "EnsembleClassifier": "ensemble"}


def _kind(model: Any) -> str:
    """The estimator class a served model is (a scorer names the estimator it was loaded from)."""
    return str(getattr(model, "estimator_name", type(model).__name__))


def intent_model_id(model: Any) -> str:
    """The live shop-intent model's id (its class and features), as
    :data:`shopintent.evaluation.results.BENCHMARKED` names benchmarked configurations."""
    kind = _kind(model)
    if kind == "IntentClassifier":
        return f"shop-intent:{kind}({'+'.join([*model.encoders, 'tfidf'])})"
    if kind == "FineTunedClassifier":
        return f"shop-intent:{kind}({model.backbone})"
    return f"shop-intent:{kind}"


def intent_model_card(model: Any) -> dict[str, Any]:
    """Which shop-intent model is live: its kind (readable), id and validation accuracy."""
    metrics = getattr(model, "metrics_", None) or {}
    accuracy = metrics.get("validation_accuracy") if isinstance(metrics, dict) else None
    kind = _kind(model)
    return {"kind": INTENT_KINDS.get(kind, kind), "model_id": intent_model_id(model),
            "validation_accuracy": None if accuracy is None else round(float(accuracy), 4)}


def parser_model(parser: Any) -> tuple[Any, dict[str, Any]]:
    """A loaded :class:`shopintent.text.Parser` and its card (the live intent model, its components)."""
    if parser.intent_model is None:
        raise ModelUnavailable("text", NOT_PREPARED)
    parser.parse("where is my order")  # first call warms the encoder
    components = {name: getattr(parser, name) is not None
                  for name in ("intent_model", "sentiment_model", "zh_tagger", "en_tagger")}
    live = intent_model_card(parser.intent_model)
    score = live["validation_accuracy"]
    # The version is what /readyz and the dashboard show: say which intent model answers.
    version = live["kind"] + ("" if score is None else f", validation accuracy {score:.4f}")
    card: dict[str, Any] = {"version": version, "model_id": live["model_id"], "intent_model": live,
                            "components": components}
    metrics = getattr(parser.intent_model, "metrics_", None)
    if isinstance(metrics, dict):
        card["metrics"] = plain(metrics)
    return parser, card


_SCALARS = (str, int, bool, type(None))


def json_ready(value: Any) -> Any:
    """``plain(value)`` for a parse result, fast where it is already plain.

    ``ParseResult.as_dict`` is nearly JSON-ready (str, int, rounded floats, a list
    of slot dicts); only a numpy scalar or a non-finite float needs converting.
    Exact built-in types are passed through and anything else goes to
    :func:`plain`, so the answer is the same, at a fraction of the CPU per request.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {k if type(k) is str else str(k): json_ready(v) for k, v in value.items()}
    if kind is list:
        return [json_ready(v) for v in value]
    return plain(value)


def parse_text(slot: ModelSlot[Any], text: str) -> dict[str, Any]:
    """Parse one text; the library's result as plain JSON."""
    return json_ready(slot.get().parse(text).as_dict())


def parse_texts(slot: ModelSlot[Any], texts: list[str]) -> list[dict[str, Any]]:
    """Parse several texts in one batched call (what the service's micro-batcher uses)."""
    return [json_ready(r.as_dict()) for r in slot.get().parse_batch(texts)]
