"""Service flows answered from a real store: real Taobao purchases, the shop's template file.

The intent is given (the text package's own tests measure the intent model); the
slots come from the parser's real order-id rules, and every fact in an answer must
be the stored purchase's.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shopintent.assist.assistant import Assistant
from shopintent.assist.dialogue import Turn
from shopintent.assist.flows import FLOW_OF_INTENT
from shopintent.assist.phrasebook import DEFAULT_TEMPLATES, Phrasebook, TemplateError
from shopintent.assist.store_lookup import lookup_order, order_key
from shopintent.settings import Settings
from shopintent.text.language import detect_language
from shopintent.text.rules import extract_rule_slots
from tests.assist.shop_orders import ShopOrders, shop_orders

ALICE, BOB = "100101", "1000488"


@pytest.fixture(scope="module")
def shop(session_settings: Settings) -> ShopOrders:
    return shop_orders(session_settings)


def parsed(text: str, intent: str | None, confidence: float = 0.9) -> dict[str, Any]:
    """What the parser returns, with its real slot rules and language detection."""
    return {"language": detect_language(text), "intent": intent, "confidence": confidence,
            "slots": [s.as_dict() for s in extract_rule_slots(text)], "sentiment": None,
            "sentiment_confidence": None}


def ask(shop: ShopOrders, shopper: str, text: str, intent: str | None, *, now: Any = None,
        turn: Turn | None = None, book: Phrasebook | None = None):  # type: ignore[no-untyped-def]
    assistant = Assistant(book or Phrasebook.load(), shop.pseudonymizer)
    user = shop.user_key(shopper)
    latest = shop.purchases(shopper)["timestamp"].max()
    return assistant.reply(text, parsed(text, intent), session_id=f"session-{shopper}", turn=turn,
                           orders=lambda key: lookup_order(shop.store, user, key),
                           now=(now or latest + timedelta(hours=1)).to_pydatetime())


def test_order_status_answers_the_shoppers_own_order_from_the_store(shop: ShopOrders) -> None:
    order = shop.purchases(ALICE).iloc[0]
    reply = ask(shop, ALICE, f"where is my order {order.event_id}?", "track_order")
    assert not reply.escalate and reply.flow == "order_status"
    assert order.timestamp.strftime("%Y-%m-%d %H:%M") in reply.answer
    assert str(order.item_id) in reply.answer
    assert order.event_id not in reply.answer and f"…{order.event_id[-4:]}" in reply.answer
    key = order_key(shop.pseudonymizer, order.event_id)
    assert reply.sources == ("template:order_status.en.found", f"store:{key}")


def test_another_shoppers_order_number_gets_no_data_and_reads_like_an_unknown_number(
        shop: ShopOrders) -> None:
    bobs = shop.purchases(BOB).iloc[0]
    stolen = ask(shop, ALICE, f"where is my order {bobs.event_id}?", "track_order")
    unknown = ask(shop, ALICE, "where is my order 209999999999?", "track_order")
    assert stolen.answer == unknown.answer
    assert stolen.sources == unknown.sources == ("template:order_status.en.not_found",)
    assert str(bobs.item_id) not in stolen.answer
    assert bobs.timestamp.strftime("%Y-%m-%d") not in stolen.answer
    assert stolen.turn.awaiting_order and stolen.turn.order_key is None


def test_without_an_order_number_the_latest_own_order_answers(shop: ShopOrders) -> None:
    latest = shop.purchases(ALICE).iloc[-1]
    reply = ask(shop, ALICE, "where is my package", "track_order")
    assert latest.timestamp.strftime("%Y-%m-%d %H:%M") in reply.answer and "(your latest)" in reply.answer


def test_cancel_and_return_windows_follow_the_purchase_time(shop: ShopOrders) -> None:
    order = shop.purchases(ALICE).iloc[0]
    text = f"cancel order {order.event_id}"
    soon = ask(shop, ALICE, text, "cancel_order", now=order.timestamp + timedelta(hours=2))
    late = ask(shop, ALICE, text, "cancel_order", now=order.timestamp + timedelta(hours=30))
    assert (soon.sources[0], late.sources[0]) == ("template:cancel.en.open", "template:cancel.en.closed")
    until = (order.timestamp + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M")
    assert until in soon.answer
    text = f"can I return order {order.event_id}"
    inside = ask(shop, ALICE, text, "check_refund_policy", now=order.timestamp + timedelta(days=6))
    outside = ask(shop, ALICE, text, "check_refund_policy", now=order.timestamp + timedelta(days=8))
    assert (inside.sources[0], outside.sources[0]) == ("template:return.en.open", "template:return.en.closed")
    assert (order.timestamp + timedelta(days=7)).strftime("%Y-%m-%d") in inside.answer


def test_chinese_questions_get_the_chinese_templates(shop: ShopOrders) -> None:
    order = shop.purchases(BOB).iloc[0]
    reply = ask(shop, BOB, f"我要退货，订单号 {order.event_id}", "check_refund_policy")
    assert reply.language == "zh" and reply.sources[0].startswith("template:return.zh.")
    assert order.timestamp.strftime("%Y-%m-%d") in reply.answer and "订单" in reply.answer
    assert ask(shop, BOB, "怎么付款", "check_payment_methods").sources == ("template:payment.zh.general",)


def test_every_flow_answers_every_one_of_its_intents_in_both_languages(shop: ShopOrders) -> None:
    book = Phrasebook.load()
    for intent, flow in FLOW_OF_INTENT.items():
        for text in ("about my order please", "关于我的订单"):
            reply = ask(shop, ALICE, text, intent, book=book)
            assert reply.flow == flow and not reply.escalate, (intent, reply)
            assert "${" not in reply.answer and reply.answer.strip()
            assert reply.sources[0].startswith(f"template:{flow}.{reply.language}.")


def test_a_follow_up_keeps_the_order_and_an_order_number_completes_the_question(shop: ShopOrders) -> None:
    order = shop.purchases(ALICE).iloc[2]
    first = ask(shop, ALICE, "has my refund been processed?", "track_refund")
    assert first.sources[0] == "template:refund.en.found"  # the latest order
    asked = ask(shop, ALICE, "where is order 209999999999", "track_order")
    assert asked.turn.awaiting_order
    # the next message only gives the number: the intent model is unsure, the context is not
    given = ask(shop, ALICE, f"sorry, it is {order.event_id}", "oos", turn=asked.turn)
    assert given.flow == "order_status" and not given.escalate
    assert order.timestamp.strftime("%Y-%m-%d %H:%M") in given.answer
    when = ask(shop, ALICE, "and when will it arrive?", "delivery_period", turn=given.turn)
    assert when.sources[1] == f"store:{order_key(shop.pseudonymizer, order.event_id)}"
    assert when.turn.turns == asked.turn.turns + 2


def test_a_shops_own_template_file_is_used_and_a_bad_one_is_refused_by_name(
        shop: ShopOrders, tmp_path: Path) -> None:
    own = tmp_path / "answers.toml"
    own.write_text(DEFAULT_TEMPLATES.read_text(encoding="utf-8").replace(
        "return_window_days = 7", "return_window_days = 30"), encoding="utf-8")
    settings = Settings(assist_templates=own)
    book = Phrasebook.load(settings.assist_templates)
    order = shop.purchases(ALICE).iloc[0]
    reply = ask(shop, ALICE, f"return order {order.event_id}", "check_refund_policy", book=book,
                now=order.timestamp + timedelta(days=20))
    assert reply.sources[0] == "template:return.en.open" and "30-day" in reply.answer

    broken = tmp_path / "broken.toml"
    broken.write_text(DEFAULT_TEMPLATES.read_text(encoding="utf-8").replace(
        "total ${total}. It is paid", "total ${amount}. It is paid"), encoding="utf-8")
    with pytest.raises(TemplateError, match=r"\[order_status.en\] `found` uses \$\{amount\}"):
        Phrasebook.load(broken)
    with pytest.raises(TemplateError, match="does not exist"):
        Phrasebook.load(tmp_path / "missing.toml")


def test_the_templates_command_checks_a_shops_file(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from shopintent.cli.main import app

    runner = CliRunner()
    shipped = runner.invoke(app, ["assist", "templates", "--json"])
    assert shipped.exit_code == 0, shipped.output
    summary = json.loads(shipped.stdout)
    assert summary["windows"] == {"return_window_days": 7, "cancel_window_hours": 24, "delivery_days": 3}
    assert summary["answers"]["cancel"] == ["closed", "general", "no_orders", "not_found", "open"]
    broken = tmp_path / "answers.toml"
    broken.write_text(DEFAULT_TEMPLATES.read_text(encoding="utf-8").replace('[refund.zh]\n', '[refund.zx]\n'),
                      encoding="utf-8")
    refused = runner.invoke(app, ["assist", "templates", "--file", str(broken)])
    assert refused.exit_code == 2 and "[refund.zh] is missing" in refused.output


def test_the_modules_examples_run() -> None:
    import doctest

    from shopintent.assist import dialogue, flows, phrasebook

    for module in (phrasebook, flows, dialogue):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
