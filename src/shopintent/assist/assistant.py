"""The assistant's turn: a parsed shopper message -> a service flow, a Q&A answer, or a person.

One message is answered in this order:

1. no words at all (emoji only, punctuation, control characters) -> the file's
   ``no_text`` answer, asking for the question in words;
2. a reason to hand over before answering (asked for a person, the session's risk
   verdict, strongly negative sentiment; :mod:`~shopintent.assist.handover`);
3. a service intent with enough confidence (or a follow-up that gives the order
   number the last answer asked for) -> its flow over the caller's own orders
   (:mod:`~shopintent.assist.flows`);
4. the shop's Q&A index (:class:`~shopintent.assist.retrieval.QAIndex`), when one is
   loaded and its calibrated confidence is high enough;
5. otherwise a hand-over, ``out_of_scope`` or ``low_confidence``.

Nothing is generated: every answer is a template of the shop's file filled from
the store, or a stored Q&A answer, and its ``sources`` say which. The library
function takes the parse result, the caller's order lookup and risk action as
arguments, so tests drive it without HTTP and the service wires it in
(:mod:`shopintent.assist.live`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shopintent.assist.dialogue import Turn
from shopintent.assist.flows import answer_flow, flow_for, wants_order
from shopintent.assist.handover import Handover, Reason, log_handover
from shopintent.assist.phrasebook import Phrasebook
from shopintent.assist.store_lookup import OrderLookup, order_key
from shopintent.log import get_logger
from shopintent.privacy import Pseudonymizer

log = get_logger(__name__)

#: Looks up the caller's order by keyed id (``None``: their latest); ``None`` when no store is open.
OrderReader = Callable[[str | None], OrderLookup]


class QuestionAnswerer(Protocol):
    """What the assistant needs of a Q&A index (:class:`shopintent.assist.retrieval.QAIndex`)."""

    def ask(self, question: str, product_id: str | None = None, k: int = 5) -> tuple[list[Any], float]:
        """Answers (``text``, ``source_id``, ``score``) best first, and a confidence in [0, 1]."""
        ...


@dataclass(frozen=True)
class Reply:
    """The assistant's answer to one message."""

    answer: str
    sources: tuple[str, ...]
    intent: str | None
    confidence: float | None
    language: str
    escalate: bool
    reason: str | None
    flow: str | None
    turn: Turn

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of ``POST /v1/assist`` (the context stays in the session)."""
        return {"answer": self.answer, "sources": list(self.sources), "intent": self.intent,
                "confidence": None if self.confidence is None else round(float(self.confidence), 4),
                "language": self.language, "escalate": self.escalate, "reason": self.reason,
                "flow": self.flow, "turn": self.turn.turns}


def has_words(text: str) -> bool:
    """Whether ``text`` holds a letter or a digit of any script (not only emoji, marks, controls)."""
    return any(unicodedata.category(c)[0] in "LN" for c in text[:4000])


def answer_language(parsed_language: str | None, text: str, default: str) -> str:
    """``zh`` or ``en`` for the answer: the detected language; mixed text with Chinese -> zh."""
    if parsed_language in ("zh", "en"):
        return parsed_language
    if any("\u4e00" <= c <= "\u9fff" for c in text[:4000]):
        return "zh"
    return default


def typed_order(parsed: dict[str, Any]) -> str | None:
    """The first order number the parser found in the text (its ``order_id`` slot)."""
    for slot in parsed.get("slots") or ():
        if isinstance(slot, dict) and slot.get("label") == "order_id" and slot.get("value"):
            return str(slot["value"])
    return None


class Assistant:
    """Answers shopper messages from the shop's template file, event store and Q&A index."""

    def __init__(self, book: Phrasebook, pseudonymizer: Pseudonymizer,
                 qa: QuestionAnswerer | None = None) -> None:
        self.book = book
        self.pseudonymizer = pseudonymizer
        self.qa = qa
        self.handover = Handover(book.handover)

    def reply(self, text: str, parsed: dict[str, Any], *, session_id: str, turn: Turn | None,
              orders: OrderReader | None, now: datetime, product_id: str | None = None,
              risk_action: str | None = None) -> Reply:
        """Answer one message: ``parsed`` is the text package's reading of ``text``;
        ``orders`` reads the caller's own orders (``None`` when no store is open)."""
        turn = turn or Turn()
        language = answer_language(parsed.get("language"), text, self.book.default_language)
        intent = parsed.get("intent")
        confidence = parsed.get("confidence")
        product = product_id or turn.product_id
        if not has_words(text):
            return Reply(self.book.render("fallback", language, "no_text", {}),
                         (f"template:fallback.{language}.no_text",), None, None, language,
                         False, None, None, turn.next(product_id=product))
        reason = self.handover.before_answer(text, parsed, risk_action)
        if reason is not None:
            return self._hand_over(reason, language, intent, confidence, session_id, turn, product)

        number = typed_order(parsed)
        flow_intent = intent if flow_for(intent) and self.handover.confident(confidence) else None
        if flow_intent is None and number and turn.awaiting_order and turn.intent:
            flow_intent = turn.intent  # "it's 2017120312345" after "which order?"
        if flow_intent is not None:
            return self._flow(flow_intent, language, confidence, number, session_id, turn, orders,
                              now, product)

        if self.qa is not None:
            answers, qa_confidence = self.qa.ask(text, product_id=product, k=3)
            if answers and self.handover.confident(qa_confidence):
                return Reply(str(answers[0].text), tuple(f"qa:{a.source_id}" for a in answers[:3]),
                             intent, qa_confidence, language, False, None, None,
                             turn.next(intent=intent, flow=None, product_id=product,
                                       awaiting_order=False, escalated=False))
        return self._hand_over(self.handover.unanswered(intent), language, intent, confidence,
                               session_id, turn, product)

    def _flow(self, intent: str, language: str, confidence: float | None, number: str | None,
              session_id: str, turn: Turn, orders: OrderReader | None, now: datetime,
              product: str | None) -> Reply:
        key = order_key(self.pseudonymizer, number) if number else None
        ref = number[-4:] if number else None
        if key is None and turn.order_key:
            key, ref = turn.order_key, turn.order_ref  # "and when will it arrive?"
        lookup = None
        if wants_order(intent, key is not None):
            if orders is None:
                return self._hand_over(Reason.NO_STORE, language, intent, confidence, session_id,
                                       turn, product)
            try:
                lookup = orders(key)
            except Exception as exc:  # a store that is busy or gone: a person, never a 500
                log.warning("assist order lookup failed", error=type(exc).__name__)
                return self._hand_over(Reason.NO_STORE, language, intent, confidence, session_id,
                                       turn, product)
        found = answer_flow(self.book, intent, language, lookup, now, order_ref=ref)
        awaiting = found.outcome in ("not_found", "no_orders")
        order = lookup.order if lookup is not None else None
        if order is not None:
            remembered = (order.event_id, ref)
        else:  # a general answer keeps the order talked about; a miss forgets it
            remembered = (None, None) if awaiting else (turn.order_key, turn.order_ref)
        return Reply(found.text, found.sources, intent, confidence, language, False, None, found.flow,
                     turn.next(intent=intent, flow=found.flow, product_id=product,
                               order_key=remembered[0], order_ref=remembered[1],
                               awaiting_order=awaiting, escalated=False))

    def _hand_over(self, reason: Reason, language: str, intent: str | None, confidence: float | None,
                   session_id: str, turn: Turn, product: str | None) -> Reply:
        log_handover(reason, self.pseudonymizer, session_id, intent=intent, language=language,
                     confidence=confidence)
        return Reply(self.book.render("handover", language, reason.value, {}),
                     (f"template:handover.{language}.{reason.value}",), intent, confidence, language,
                     True, reason.value, None,
                     turn.next(intent=intent, product_id=product, escalated=True))
