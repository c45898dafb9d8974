"""When the assistant stops answering and passes the shopper to a person, and why.

Five reasons about the shopper, checked in this order (the first that holds is the one given):

``asked_for_person``    the intent is ``contact_human_agent`` / ``contact_customer_service`` or
                        the text asks for a person (人工, 转人工, 真人客服, "human", "real person",
                        "agent", "representative")
``high_risk``           the session's live risk verdict is one of the file's ``risk_actions``
                        (hold, block): a person checks before anything is promised
``negative_sentiment``  the sentiment model says negative with at least the file's confidence
``out_of_scope``        the intent model says ``oos`` and nothing else answered
``low_confidence``      the intent (or the Q&A answer) is below the file's ``min_confidence``

and ``no_store`` when a question about an order cannot be looked up (a worker without the
event store, or a store that did not answer in time).

Every hand-over is logged with its reason, intent, language and confidence, and a
keyed reference of the session (so a person can find the conversation) — never the
shopper's text or any raw id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shopintent.assist.phrasebook import HandoverThresholds
from shopintent.log import get_logger
from shopintent.privacy import Pseudonymizer

log = get_logger(__name__)

#: Intents that ask for a person by name.
PERSON_INTENTS = frozenset({"contact_human_agent", "contact_customer_service"})
_ASKS_PERSON = re.compile(
    r"人工|转人工|真人|找客服|客服电话|活人"
    r"|\b(human|real person|live agent|an agent|representative|speak to (someone|somebody|a person)"
    r"|talk to (someone|somebody|a person))\b",
    re.IGNORECASE)
#: Sentiment labels that count as negative.
NEGATIVE = frozenset({"negative", "neg"})


class Reason(StrEnum):
    """Why a conversation went to a person."""

    ASKED_FOR_PERSON = "asked_for_person"
    HIGH_RISK = "high_risk"
    NEGATIVE_SENTIMENT = "negative_sentiment"
    OUT_OF_SCOPE = "out_of_scope"
    LOW_CONFIDENCE = "low_confidence"
    NO_STORE = "no_store"


def asks_for_person(text: str, intent: str | None) -> bool:
    """Whether the shopper asked for a person (by intent or in so many words)."""
    return intent in PERSON_INTENTS or bool(_ASKS_PERSON.search(text[:2000]))


@dataclass(frozen=True)
class Handover:
    """The policy of one template file: thresholds in, a reason (or ``None``) out."""

    thresholds: HandoverThresholds

    def before_answer(self, text: str, parsed: dict[str, Any],
                      risk_action: str | None) -> Reason | None:
        """A reason to hand over before any answer is tried (``None``: try to answer)."""
        if asks_for_person(text, parsed.get("intent")):
            return Reason.ASKED_FOR_PERSON
        if risk_action is not None and risk_action in self.thresholds.risk_actions:
            return Reason.HIGH_RISK
        sentiment = str(parsed.get("sentiment") or "").lower()
        if sentiment in NEGATIVE and float(parsed.get("sentiment_confidence") or 0.0) >= \
                self.thresholds.negative_sentiment_confidence:
            return Reason.NEGATIVE_SENTIMENT
        return None

    def unanswered(self, intent: str | None) -> Reason:
        """The reason when neither a flow nor the Q&A answered confidently enough."""
        return Reason.OUT_OF_SCOPE if intent in (None, "oos") else Reason.LOW_CONFIDENCE

    def confident(self, confidence: float | None) -> bool:
        """Whether a confidence is high enough to answer without a person."""
        return confidence is not None and confidence >= self.thresholds.min_confidence


def log_handover(reason: Reason, pseudonymizer: Pseudonymizer, session_id: str, *,
                 intent: str | None, language: str | None, confidence: float | None) -> None:
    """Log one hand-over: its reason and a keyed session reference, never text or raw ids."""
    log.info("assist hand-over", reason=reason.value, intent=intent, language=language,
             confidence=None if confidence is None else round(float(confidence), 4),
             session_ref=pseudonymizer.pseudonymize(session_id, "assist_handover"))
