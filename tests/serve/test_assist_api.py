"""``POST /v1/assist`` on the real app: real Taobao shoppers' events in the store, a real intent model.

Two real shoppers' events are posted with order numbers on their purchases (as a shop
sends its order ids); each asks about orders through their own live session. What is
pinned does not depend on which intent the small test model picks: an order of the
other shopper never shows, a request for a person always hands over, bad input is a
clear answer or a 422 (never a 500), the key's scope is checked, and the message's
intent becomes the session's latest, which the decision engine reads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from shopintent.serve.adapters.base import ModelSlot
from shopintent.serve.adapters.text import parser_model
from shopintent.settings import Settings
from tests.assist.shop_orders import SHOPPERS, order_number
from tests.serve.conftest import API_KEY, AUTH, make_client, small_parser, wait_ready

READER = "assist-reader-key"
ALICE, BOB = SHOPPERS


def _events(settings: Settings) -> list[dict[str, object]]:
    from shopintent.datasets import taobao_userbehavior_head as taobao

    events = taobao.load(settings).events
    rows = events[events["user_id"].isin(SHOPPERS)]
    return [{"event_id": order_number(i) if r.event_type == "purchase" else None,
             "user_id": r.user_id, "event_type": r.event_type, "item_id": str(r.item_id),
             "category_id": str(r.category_id), "timestamp": r.timestamp.isoformat()}
            for i, r in zip(rows.index, rows.itertuples(index=False), strict=True)]


@pytest.fixture(scope="module")
def shop(model_settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], list[dict[str, object]]]]:
    """The app (default behaviour models and decision engine) with both shoppers' events stored;
    their latest live session ids."""
    with make_client(model_settings, api_keys=(API_KEY, f"{READER}:read"), load_models=True,
                     auto_decide="off") as client:
        wait_ready(client, ("behaviour", "intervene"))
        service = client.app.state.service  # type: ignore[attr-defined]
        parser = small_parser(model_settings)
        service.models["text"] = ModelSlot("text", lambda: parser_model(parser))
        assert service.models["text"].load()
        events = _events(model_settings)
        body = client.post("/v1/events?wait=store", json={"events": events}, headers=AUTH).json()
        assert body["stored"] == len(events), body
        sessions = {}
        for event, result in zip(events, body["results"], strict=True):
            sessions[str(event["user_id"])] = result["session_id"]  # the last one stays live
        yield client, sessions, events


def _purchases(events: list[dict[str, object]], shopper: str) -> list[dict[str, object]]:
    return [e for e in events if e["user_id"] == shopper and e["event_type"] == "purchase"]


def _assist(client: TestClient, session_id: str, text: str, **extra: object):  # type: ignore[no-untyped-def]
    return client.post("/v1/assist", json={"session_id": session_id, "text": text, **extra}, headers=AUTH)


def test_an_answer_has_its_sources_intent_and_escalation(shop) -> None:  # type: ignore[no-untyped-def]
    client, sessions, events = shop
    order = _purchases(events, ALICE)[0]
    response = _assist(client, sessions[ALICE], f"where is my order {order['event_id']}?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"answer", "sources", "intent", "confidence", "escalate", "reason", "decision"}
    assert body["sources"] and body["answer"] and body["turn"] >= 1
    assert body["escalate"] is (body["reason"] is not None)
    assert str(order["event_id"]) not in body["answer"]  # never echoed whole
    if body["flow"] == "order_status":
        assert str(order["timestamp"])[:10] in body["answer"] and str(order["item_id"]) in body["answer"]


def test_another_shoppers_order_never_shows(shop) -> None:  # type: ignore[no-untyped-def]
    client, sessions, events = shop
    for order in _purchases(events, BOB)[:3]:
        for text in (f"where is my order {order['event_id']}?", f"cancel order {order['event_id']}",
                     f"我的订单 {order['event_id']} 到哪了", f"refund for order {order['event_id']}"):
            body = _assist(client, sessions[ALICE], text).json()
            assert str(order["item_id"]) not in body["answer"], (text, body)
            assert str(order["timestamp"])[:10] not in body["answer"], (text, body)
            assert not any(s.startswith("store:") for s in body["sources"]), body


def test_asking_for_a_person_hands_over_with_the_reason_and_counts_on_the_dashboard(shop) -> None:  # type: ignore[no-untyped-def]
    client, sessions, _ = shop
    before = client.get("/v1/assist/live", headers={"X-API-Key": READER}).json()
    for text in ("转人工", "I want to talk to a real person"):
        body = _assist(client, sessions[BOB], text).json()
        assert body["escalate"] is True and body["reason"] == "asked_for_person", body
    live = client.get("/v1/assist/live", headers={"X-API-Key": READER}).json()
    assert live["messages"] == before["messages"] + 2
    assert live["reasons"]["asked_for_person"] == before["reasons"].get("asked_for_person", 0) + 2
    assert live["conversations"][0]["session_id"] == sessions[BOB]
    assert live["conversations"][0]["reason"] == "asked_for_person"
    assert 0.0 <= live["answer_rate"] <= 1.0


def test_the_messages_intent_reaches_the_decision_engine(shop) -> None:  # type: ignore[no-untyped-def]
    client, sessions, _ = shop
    service = client.app.state.service  # type: ignore[attr-defined]
    body = _assist(client, sessions[BOB], "this is too expensive, can I get a refund?").json()
    signal = service.signals.get(sessions[BOB])
    if body["intent"] not in (None, "oos"):
        assert signal["intent"] == body["intent"]
    decision = body["decision"]  # decided under the engine's caps, logged like any other
    assert decision["decision_id"] and decision["action"]
    again = client.post("/v1/decisions", json={"session_id": sessions[BOB]}, headers=AUTH).json()
    assert again["context"]["intent"] == (signal or {}).get("intent")


@pytest.mark.parametrize("text", ["😀😀😀", "\x01\x02\x03", "？？？", "   ", "my 订单 where 到哪了",
                                  "a" * 1999, "退货" * 999])
def test_odd_text_gets_a_clear_answer(shop, text: str) -> None:  # type: ignore[no-untyped-def]
    client, sessions, _ = shop
    response = _assist(client, sessions[ALICE], text)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"].strip()
    if text.strip("😀\x01\x02\x03？ ") == "":
        assert body["sources"] == [f"template:fallback.{body['language']}.no_text"]


@hsettings(max_examples=60, deadline=None, derandomize=True,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.text(max_size=300) | st.sampled_from(["退货 refund 订单 201700022891 😡", "\u202e\u200b", "\x7f\x1b[31m"]),
       product=st.none() | st.text(max_size=40))
def test_any_text_is_answered_or_refused_never_a_500(shop, text: str, product: str | None) -> None:  # type: ignore[no-untyped-def]
    client, sessions, _ = shop
    response = _assist(client, sessions[ALICE], text, product_id=product)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["answer"].strip()


@pytest.mark.parametrize(("body", "field"), [
    ({"text": ""}, "text"), ({"text": "x" * 10_240}, "text"), ({"text": "a\x00b"}, "text"),
    ({"text": "hi", "product_id": "p" * 300}, "product_id"), ({"text": "hi", "colour": "red"}, "colour"),
    ({}, "text")])
def test_bad_bodies_are_422_naming_the_field(shop, body: dict[str, object], field: str) -> None:  # type: ignore[no-untyped-def]
    client, sessions, _ = shop
    response = client.post("/v1/assist", json={"session_id": sessions[ALICE], **body}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert f"`{field}`" in response.json()["detail"]


def test_an_unknown_session_is_404_and_the_write_scope_is_needed(shop) -> None:  # type: ignore[no-untyped-def]
    client, sessions, _ = shop
    assert _assist(client, "s_not-issued", "where is my order").status_code == 404
    body = {"session_id": sessions[ALICE], "text": "where is my order"}
    assert client.post("/v1/assist", json=body).status_code == 401
    assert client.post("/v1/assist", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    refused = client.post("/v1/assist", json=body, headers={"X-API-Key": READER})
    assert refused.status_code == 403 and "'write'" in refused.json()["detail"]
    assert client.get("/v1/assist/live").status_code == 401


def test_the_conversation_context_is_shared_through_redis(redis_url: str) -> None:
    from shopintent.assist.dialogue import RedisDialogues, Turn

    one, other = RedisDialogues(redis_url, prefix="assist-test:"), RedisDialogues(redis_url, prefix="assist-test:")
    try:
        turn = Turn(turns=2, flow="return", intent="check_refund_policy", order_key="e_" + "0" * 32,
                    order_ref="0042", product_id="B00004SGFW", awaiting_order=False)
        one.put("s_redis", turn)
        assert other.get("s_redis") == turn  # another worker continues the conversation
        assert other.get("s_unknown") is None
        assert 0 < one.client.ttl("assist-test:dialogue:s_redis") <= one.ttl_s
    finally:
        one.close()
        other.close()


def test_a_broken_template_file_stops_the_assistant_not_the_service(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from shopintent.assist.phrasebook import DEFAULT_TEMPLATES
    from shopintent.serve.adapters.base import ModelUnavailable

    broken = tmp_path / "answers.toml"
    broken.write_text(DEFAULT_TEMPLATES.read_text(encoding="utf-8").replace("arrives by ${delivery_by}", "arrives by ${eta}"),
                      encoding="utf-8")
    with make_client(settings.model_copy(update={"assist_templates": broken})) as client:
        events = _events(settings)[:3]
        stored = client.post("/v1/events?wait=store", json={"events": events}, headers=AUTH).json()
        assert stored["stored"] == 3  # the service ingests as before
        service = client.app.state.service  # type: ignore[attr-defined]
        state = service.resolve_session(stored["results"][-1]["session_id"])
        with pytest.raises(ModelUnavailable, match=r"answers.toml: \[order_status.en\] `found` uses \$\{eta\}"):
            asyncio.run(service.assist_desk.reply(service, state, "where is my order", {}, None))
