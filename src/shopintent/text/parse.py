"""``parse(text)``: language, intent with confidence (or ``oos``), slots with character offsets, sentiment.

Why one entry point: the service, the CLI and the assistant need one cheap
call that never raises on what a shopper types — empty strings, 10 kB pastes,
emoji, control characters, Chinese and English mixed. Models see a cleaned,
bounded copy of the text; slot offsets always index the original string.

>>> p = load_default_parser(settings)                  # doctest: +SKIP
>>> p.parse("我要退货，订单号 2023110512345").as_dict()   # doctest: +SKIP
{'language': 'zh', 'intent': 'get_refund', 'confidence': 0.83, 'slots': [...], ...}
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopintent.settings import Settings, get_settings
from shopintent.text.clean import clean_text
from shopintent.text.language import detect_language
from shopintent.text.rules import Slot, extract_rule_slots, resolve_overlaps

if TYPE_CHECKING:  # the parser only calls them; the service passes scikit-learn-free scorers
    from shopintent.text.intent_scoring import IntentScorer
    from shopintent.text.rejection import RejectingClassifier
    from shopintent.text.tagger import SlotTagger

#: Characters of the original text that slot extraction reads (rules and taggers).
MAX_SLOT_CHARS = 4000


@dataclass
class ParseResult:
    """What shopintent understood from one text."""

    text: str
    language: str
    intent: str | None
    confidence: float | None
    slots: list[Slot] = field(default_factory=list)
    sentiment: str | None = None
    sentiment_confidence: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the text itself is left out: callers have it)."""
        return {
            "language": self.language,
            "intent": self.intent,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "slots": [s.as_dict() for s in self.slots],
            "sentiment": self.sentiment,
            "sentiment_confidence": (
                None if self.sentiment_confidence is None else round(self.sentiment_confidence, 4)
            ),
        }


class Parser:
    """Runs the text models that are present; any component may be ``None`` (then it is skipped)."""

    def __init__(
        self,
        intent_model: RejectingClassifier | IntentScorer | None = None,
        sentiment_model: RejectingClassifier | None = None,
        zh_tagger: SlotTagger | None = None,
        en_tagger: SlotTagger | None = None,
    ) -> None:
        self.intent_model = intent_model
        self.sentiment_model = sentiment_model
        self.zh_tagger = zh_tagger
        self.en_tagger = en_tagger

    def slots(self, text: str, language: str) -> list[Slot]:
        """Rule slots plus tagger spans, overlaps resolved (longer first, rules before models)."""
        head = text[:MAX_SLOT_CHARS]
        found = extract_rule_slots(head)
        taggers = []
        if language in ("zh", "mixed") and self.zh_tagger is not None:
            taggers.append(self.zh_tagger)
        if language in ("en", "mixed") and self.en_tagger is not None:
            taggers.append(self.en_tagger)
        for tagger in taggers:
            for span in tagger.predict_spans([head])[0]:
                found.append(
                    Slot(span.start, span.end, span.label, span.text, span.text, source="model")
                )
        return resolve_overlaps(
            found, {"order_id": 0, "price": 1, "size": 2, "quantity": 3, "colour": 4}
        )

    def parse_batch(self, texts: list[str]) -> list[ParseResult]:
        """Parse many texts; models run batched (the fast path for throughput)."""
        originals = ["" if t is None else (t if isinstance(t, str) else str(t)) for t in texts]
        cleaned = [clean_text(t) for t in originals]
        languages = [detect_language(t) for t in cleaned]
        nonempty = [i for i, t in enumerate(cleaned) if t]
        intents: dict[int, tuple[str, float]] = {}
        sentiments: dict[int, tuple[str, float]] = {}
        if nonempty and self.intent_model is not None:
            out = self.intent_model.predict_with_confidence(
                [cleaned[i] for i in nonempty], persist=False
            )
            intents = dict(zip(nonempty, out, strict=True))
        if nonempty and self.sentiment_model is not None:
            out = self.sentiment_model.predict_with_confidence(
                [cleaned[i] for i in nonempty], persist=False
            )
            sentiments = dict(zip(nonempty, out, strict=True))
        results = []
        for i, text in enumerate(originals):
            intent, confidence = intents.get(i, (None, None))
            sentiment, sentiment_conf = sentiments.get(i, (None, None))
            results.append(
                ParseResult(
                    text=text,
                    language=languages[i],
                    intent=intent,
                    confidence=confidence,
                    slots=self.slots(text, languages[i]) if cleaned[i] else [],
                    sentiment=sentiment,
                    sentiment_confidence=sentiment_conf,
                )
            )
        return results

    def parse(self, text: str) -> ParseResult:
        """Parse one text (never raises on odd input; empty text gets no intent and no slots)."""
        return self.parse_batch([text])[0]


_parsers: dict[str, Parser] = {}
_parsers_lock = threading.Lock()


def load_default_parser(settings: Settings | None = None, train_missing: bool = True) -> Parser:
    """The process-wide parser over the default models in ``settings.state_dir`` (trained if missing).

    Loaded once per state folder and then shared; see :mod:`shopintent.text.defaults`
    for first-use training times.
    """
    from shopintent.text.defaults import ensure_model

    settings = settings or get_settings()
    key = str(Path(settings.state_dir).resolve())
    with _parsers_lock:
        if key not in _parsers or (train_missing and _parsers[key].intent_model is None):
            _parsers[key] = Parser(
                intent_model=ensure_model(settings, "shop_intent", train_missing),
                sentiment_model=ensure_model(settings, "sentiment", train_missing),
                zh_tagger=ensure_model(settings, "ner_zh", train_missing),
                en_tagger=ensure_model(settings, "slots_en", train_missing),
            )
        return _parsers[key]


def parse(text: str, settings: Settings | None = None) -> ParseResult:
    """Understand one shopper text with the default models (see :func:`load_default_parser`)."""
    return load_default_parser(settings).parse(text)
