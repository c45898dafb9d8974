"""Text understanding for ``POST /v1/intent`` through :mod:`shopintent.text`'s default parser.

The parser's default models live in the state folder; missing ones are trained
on first use (minutes: see ``docs/text.md``) on the service's loader thread, or
— with ``train_missing=False`` — the endpoint answers 503 until they exist.
"""

from __future__ import annotations

from typing import Any

from shopintent.serve.adapters.base import ModelSlot, ModelUnavailable, import_or_unavailable
from shopintent.serve.adapters.convert import plain
from shopintent.settings import Settings


def text_slot(settings: Settings, train_missing: bool = True) -> ModelSlot[Any]:
    """The default parser (language, intent + out-of-scope, slots, sentiment)."""

    def load() -> tuple[Any, dict[str, Any]]:
        (load_parser,) = import_or_unavailable("text", "shopintent.text", ("load_default_parser",),
                                               "issue: text")
        parser = load_parser(settings, train_missing=train_missing)
        return parser_model(parser)

    return ModelSlot("text", load)


def parser_model(parser: Any) -> tuple[Any, dict[str, Any]]:
    """A loaded :class:`shopintent.text.Parser` and its card (which components it runs)."""
    if parser.intent_model is None:
        raise ModelUnavailable("text", "no intent model in state_dir/text/models yet; start the "
                               "service with training allowed or run `shopintent bench text`")
    parser.parse("where is my order")  # first call warms the encoder
    components = {name: getattr(parser, name) is not None
                  for name in ("intent_model", "sentiment_model", "zh_tagger", "en_tagger")}
    card = {"version": "default", "components": components}
    metrics = getattr(parser.intent_model, "metrics_", None)
    if isinstance(metrics, dict):
        card["metrics"] = plain(metrics)
    return parser, card


def parse_text(slot: ModelSlot[Any], text: str) -> dict[str, Any]:
    """Parse one text; the library's result as plain JSON."""
    return plain(slot.get().parse(text).as_dict())


def parse_texts(slot: ModelSlot[Any], texts: list[str]) -> list[dict[str, Any]]:
    """Parse several texts in one batched call (what the service's micro-batcher uses)."""
    return [plain(r.as_dict()) for r in slot.get().parse_batch(texts)]
