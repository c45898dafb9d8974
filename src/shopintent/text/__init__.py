"""Text understanding for shopper messages in Chinese and English.

Public API (what the service and the CLI use):

- :func:`parse` / :func:`load_default_parser` — language, intent + confidence
  (or ``oos``), slots with character offsets, sentiment, from the default
  models under ``settings.state_dir/text/models`` (``shopintent models prepare`` trains them).
- :class:`IntentClassifier` — any labelled text → calibrated classifier with
  out-of-scope rejection (estimator shape: fit / predict / predict_proba / save / load).
- :class:`FineTunedClassifier` — the same, with the encoder (USE-multilingual
  ported to torch, or MiniLM) trained end to end; ONNX Runtime export.
- :class:`EnsembleClassifier` — several of the above, re-calibrated together;
  :func:`load_text_classifier` loads any saved kind.
- :class:`SlotTagger` — BiLSTM-CRF span tagger (zh characters or en words).
- :func:`extract_rule_slots` — prices, colours, sizes, quantities, order ids.
- :func:`detect_language`, :func:`get_encoder`.

Heavy dependencies (torch, sklearn, encoders) load lazily where possible.

What needs no trained model: the language and the rule slots of a shopper's
message (the intent needs the prepared default, see :func:`parse`):

>>> from shopintent.text import detect_language, extract_rule_slots
>>> text = "我想要红色的 XL 2件，200元以内"
>>> detect_language(text)
'zh'
>>> [(slot.label, slot.value) for slot in extract_rule_slots(text)]
[('colour', 'red'), ('size', 'XL'), ('quantity', 2), ('price', {'max': 200.0, 'currency': 'CNY'})]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopintent.text.encoders import get_encoder
from shopintent.text.language import detect_language
from shopintent.text.parse import Parser, ParseResult, load_default_parser, parse
from shopintent.text.rules import Slot, extract_rule_slots

if TYPE_CHECKING:
    from shopintent.text.ensemble import EnsembleClassifier, load_text_classifier
    from shopintent.text.finetune import FineTunedClassifier
    from shopintent.text.intent import IntentClassifier
    from shopintent.text.tagger import SlotTagger

_LAZY = {
    "FineTunedClassifier": "shopintent.text.finetune",
    "EnsembleClassifier": "shopintent.text.ensemble",
    "load_text_classifier": "shopintent.text.ensemble",
    "IntentClassifier": "shopintent.text.intent",
    "SlotTagger": "shopintent.text.tagger",
}


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """Import the estimators only when asked for: torch backs some, scikit-learn all of them, and
    the service scores the linear intent model without either (``text.intent_scoring``)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'shopintent.text' has no attribute {name!r}")


__all__ = [
    "EnsembleClassifier",
    "FineTunedClassifier",
    "IntentClassifier",
    "ParseResult",
    "Parser",
    "Slot",
    "SlotTagger",
    "detect_language",
    "extract_rule_slots",
    "get_encoder",
    "load_default_parser",
    "load_text_classifier",
    "parse",
]
