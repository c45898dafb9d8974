"""parse(): language, intent + confidence, slots with offsets, sentiment — and no crash on odd input."""

from __future__ import annotations

import pytest

from shopintent.settings import Settings
from shopintent.text import defaults, recipes
from shopintent.text.ensemble import load_text_classifier
from shopintent.text.intent import IntentClassifier
from shopintent.text.parse import Parser, load_default_parser
from shopintent.text.tagger import SlotTagger


@pytest.fixture(scope="module")
def parser(
    session_settings: Settings,
    en_tagger: SlotTagger,
    prepared_state: tuple[Settings, dict[str, object]],
) -> Parser:
    """A parser over real models: the shop-intent default `models prepare` trained (the session's
    run, loaded read-only, its embedding cache kept in this session's folder) and small models
    trained on real rows for sentiment and Chinese slots (their defaults are trained by the benchmark)."""
    intent = load_text_classifier(
        defaults.model_path(prepared_state[0], "shop_intent"), cache_dir=session_settings.state_dir
    )
    zh = recipes.zh_sentiment_splits(session_settings)
    en = recipes.en_sentiment_splits(session_settings)
    sentiment = IntentClassifier(cache_dir=session_settings.state_dir, oos_label="__none__").fit(
        zh["train"].texts[:1500] + en["train"].texts[:500],
        zh["train"].labels[:1500] + en["train"].labels[:500],
    )
    ner, gazetteers = recipes.zh_ner_splits(session_settings)
    zh_tagger = SlotTagger(mode="char", epochs=1, hidden_dim=32).fit(
        ner["train"].texts[:300], ner["train"].spans[:300], gazetteers=gazetteers
    )
    return Parser(intent, sentiment, zh_tagger, en_tagger)


def test_parse_english_support_message(parser: Parser) -> None:
    text = "I want to cancel order 12345678, it was under $50"
    result = parser.parse(text)
    assert result.language == "en"
    assert result.intent == "cancel_order"
    assert 0.3 < result.confidence <= 1.0
    labels = {s.label: s for s in result.slots}
    assert labels["order_id"].value == "12345678"
    assert text[labels["order_id"].start : labels["order_id"].end] == "12345678"
    assert labels["price"].value == {"max": 50.0, "currency": "USD"}


def test_parse_chinese_refund_request_crosses_languages(parser: Parser) -> None:
    result = parser.parse("我想申请退款，钱什么时候退回来")
    assert result.language == "zh"
    assert result.intent in {"get_refund", "track_refund", "check_refund_policy"}


def test_parse_rejects_chit_chat_as_oos(parser: Parser) -> None:
    assert parser.parse("what's the weather like in paris tomorrow").intent == "oos"


def test_parse_sentiment_of_reviews(parser: Parser) -> None:
    assert parser.parse("质量太差了，用了两天就坏了，非常失望").sentiment == "negative"
    assert parser.parse("I love my echo, works great").sentiment == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\x00\x01\x02",
        "🙂🛒🎁" * 50,
        "退货 refund 红色 XL 200元以内 under $50",
        "订单" * 5000,
        "a" * 10_240,
        "ok\ud800ok",
        "\u202e\u200b零宽",
        "<script>alert(1)</script>",
    ],
)
def test_parse_never_crashes_and_offsets_index_the_original(parser: Parser, text: str) -> None:
    result = parser.parse(text)
    assert result.language in {"zh", "en", "mixed", "und"}
    for slot in result.slots:
        assert text[slot.start : slot.end] == slot.text
    if not text.strip("\x00\x01\x02 "):
        assert result.intent is None and result.slots == []
    payload = result.as_dict()
    assert set(payload) == {
        "language",
        "intent",
        "confidence",
        "slots",
        "sentiment",
        "sentiment_confidence",
    }


def test_mixed_text_gets_rule_slots_from_both_languages(parser: Parser) -> None:
    result = parser.parse("退货 refund 红色 XL 200元以内 under $50")
    assert result.language == "mixed"
    found = {(s.label, s.text) for s in result.slots}
    assert {
        ("colour", "红色"),
        ("size", "XL"),
        ("price", "200元以内"),
        ("price", "under $50"),
    } <= found


def test_parse_batch_equals_single_parses(parser: Parser) -> None:
    texts = ["where is my package", "我要退货", ""]
    batch = [r.as_dict() for r in parser.parse_batch(texts)]
    assert batch == [parser.parse(t).as_dict() for t in texts]


def test_default_parser_without_models_still_extracts_rule_slots(settings: Settings) -> None:
    parser = load_default_parser(settings, train_missing=False)
    result = parser.parse("黑色 42码 运动鞋 两双")
    assert result.intent is None and result.sentiment is None
    assert [s.label for s in result.slots] == ["colour", "size", "quantity"]
