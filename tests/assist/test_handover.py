"""Hand-over to a person: each reason, their order, what is logged, and the Q&A path before it.

Parse results are given (the text package tests its models); the Q&A index is a real
BM25 index over real AmazonQA Appliances pairs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from shopintent.assist.assistant import Assistant
from shopintent.assist.handover import Reason
from shopintent.assist.phrasebook import Phrasebook
from shopintent.assist.store_lookup import OrderLookup
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings
from shopintent.text.language import detect_language
from shopintent.text.rules import extract_rule_slots

NOW = datetime(2017, 12, 3, 12, tzinfo=UTC)
SESSION = "s_live-session-of-the-test"
PSEUDONYMIZER = Pseudonymizer(b"test-key-not-secret-32-bytes-long!!")


def parsed(text: str, intent: str | None, confidence: float = 0.9, sentiment: str | None = None,
           sentiment_confidence: float | None = None) -> dict[str, Any]:
    return {"language": detect_language(text), "intent": intent, "confidence": confidence,
            "slots": [s.as_dict() for s in extract_rule_slots(text)], "sentiment": sentiment,
            "sentiment_confidence": sentiment_confidence}


def reply(text: str, p: dict[str, Any], *, risk: str | None = None, qa: Any = None,
          orders: Any = lambda key: OrderLookup(None, 0, key is not None), product: str | None = None):  # type: ignore[no-untyped-def]
    return Assistant(Phrasebook.load(), PSEUDONYMIZER, qa=qa).reply(
        text, p, session_id=SESSION, turn=None, orders=orders, now=NOW, product_id=product,
        risk_action=risk)


@pytest.mark.parametrize(("text", "intent", "extra", "reason"), [
    ("转人工", "track_order", {}, Reason.ASKED_FOR_PERSON),
    ("can I speak to someone about this", "contact_human_agent", {}, Reason.ASKED_FOR_PERSON),
    ("I want a human, not a bot", "complaint", {}, Reason.ASKED_FOR_PERSON),
    ("where is my order", "track_order", {"risk": "hold"}, Reason.HIGH_RISK),
    ("where is my order", "track_order", {"risk": "block"}, Reason.HIGH_RISK),
    ("this is the worst shop ever, still no parcel", "track_order",
     {"sentiment": ("negative", 0.97)}, Reason.NEGATIVE_SENTIMENT),
    ("what is the weather in Paris", "oos", {}, Reason.OUT_OF_SCOPE),
    ("cancel maybe", "cancel_order", {"confidence": 0.2}, Reason.LOW_CONFIDENCE),
    ("where is my order 201712030001", "track_order", {"orders": None}, Reason.NO_STORE),
])
def test_each_reason_hands_over_with_its_own_answer(text: str, intent: str, extra: dict[str, Any],
                                                    reason: Reason) -> None:
    sentiment = extra.get("sentiment", (None, None))
    p = parsed(text, intent, extra.get("confidence", 0.9), *sentiment)
    kwargs = {"risk": extra.get("risk")}
    if "orders" in extra:
        kwargs["orders"] = extra["orders"]
    answered = reply(text, p, **kwargs)
    assert answered.escalate and answered.reason == reason.value
    book = Phrasebook.load()
    assert answered.answer == book.render("handover", answered.language, reason.value, {})
    assert answered.sources == (f"template:handover.{answered.language}.{reason.value}",)
    assert answered.turn.escalated


def test_a_store_that_fails_mid_lookup_hands_over_instead_of_failing() -> None:
    def broken(key: str | None) -> OrderLookup:
        raise TimeoutError("the store thread did not answer")

    text = "where is my order 201712030001"
    with capture_logs() as logs:
        got = reply(text, parsed(text, "track_order"), orders=broken)
    assert got.escalate and got.reason == "no_store"
    assert any(e["event"] == "assist order lookup failed" and e["error"] == "TimeoutError" for e in logs)


def test_no_reason_no_hand_over_and_the_first_reason_wins() -> None:
    calm = reply("where is my order", parsed("where is my order", "track_order"), risk="review")
    assert not calm.escalate and calm.flow == "order_status"
    mildly = parsed("the parcel is late", "track_order", 0.9, "negative", 0.6)
    assert not reply("the parcel is late", mildly).escalate  # below the file's 0.85
    everything = parsed("转人工！太慢了", "oos", 0.1, "negative", 0.99)
    assert reply("转人工！太慢了", everything, risk="block").reason == "asked_for_person"


def test_a_hand_over_is_logged_with_its_reason_and_no_text_or_raw_id() -> None:
    text = "I want a human now, my phone is 13812345678"
    with capture_logs() as logs:
        reply(text, parsed(text, "complaint"))
    (entry,) = [e for e in logs if e["event"] == "assist hand-over"]
    assert entry["reason"] == "asked_for_person" and entry["intent"] == "complaint"
    assert entry["session_ref"] == PSEUDONYMIZER.pseudonymize(SESSION, "assist_handover")
    flat = repr(entry)
    assert SESSION not in flat and "13812345678" not in flat and "human" not in flat


@pytest.fixture(scope="module")
def qa_index(session_settings: Settings):  # type: ignore[no-untyped-def]
    from shopintent.assist.datasets import load_amazon_qa
    from shopintent.assist.retrieval import QAIndex

    table = load_amazon_qa(session_settings, categories=("Appliances",))
    n = 3000
    return table, QAIndex.build(table.questions[:n], table.answers[:n], table.products[:n],
                                table.ids[:n], kind="bm25", settings=session_settings)


def test_a_product_question_is_answered_from_the_shops_qa_only_when_confident(qa_index) -> None:  # type: ignore[no-untyped-def]
    table, index = qa_index
    threshold = Phrasebook.load().handover.min_confidence
    answered = 0
    for i in range(0, 400, 10):
        question, product = table.questions[i], table.products[i]
        _, confidence = index.ask(question, product_id=product, k=3)
        got = reply(question, parsed(question, "product_question", 0.8), qa=index, product=product)
        assert got.escalate is (confidence < threshold), (confidence, got)
        if got.escalate:
            assert got.reason == "low_confidence"
            continue
        answered += 1
        assert got.sources[0].startswith("qa:") and got.flow is None
        assert got.confidence == pytest.approx(confidence)
        top = table.ids.index(got.sources[0].removeprefix("qa:"))
        assert got.answer == table.answers[top]  # a stored answer, word for word
        assert table.products[top] == product  # narrowed to the product asked about
    assert answered >= 5


def test_out_of_scope_text_the_qa_cannot_answer_goes_to_a_person(qa_index) -> None:  # type: ignore[no-untyped-def]
    _, index = qa_index
    text = "你好在吗"
    got = reply(text, parsed(text, "oos", 0.9), qa=index)
    assert got.escalate and got.reason == "out_of_scope"
