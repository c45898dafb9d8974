"""Decisions see what a session said and how it behaves: text intent and risk score.

Real Taobao sessions, replayed over HTTP into a service with the default
behaviour models and decision engine. Taobao logs carry no prices, so every
item is given a price of 50 (coupons need a cart worth at least 20).

- A bot-like session reaches the engine with a risk score at the guardrail,
  and every coupon is blocked for ``guardrail_risk``; a person's session with a
  cart keeps its coupons. The Taobao sample holds no bot (its fastest session
  with a cart clicks about 3 times a minute), so the bot is the longest real
  session with a cart re-timed one event per second, as a crawler replaying it
  would send it.
- A help intent (``POST /v1/intent`` with the session's id) changes what is
  offered, as docs/serve.md says: coupons leave the eligible set
  (``ineligible_help_intent``) and the chat assist becomes likelier. The same
  real session is replayed under two shoppers so that the intent is the only
  difference.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.intervene.caps import CapConfig
from shopintent.serve.adapters.base import ModelSlot
from shopintent.serve.adapters.text import parser_model
from shopintent.settings import Settings
from tests.serve.conftest import AUTH, make_client, small_parser, wait_ready

PRICE = 50.0


def _sessions(settings: Settings) -> pd.DataFrame:
    from shopintent.store import sessionise_frame

    return sessionise_frame(taobao.load(settings).events)


def _session_rate(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per session: events, duration, events per minute, whether it carts, whether it buys."""
    ts = pd.to_datetime(sessions["timestamp"], utc=True)
    grouped = sessions.assign(ts=ts, cart=sessions["event_type"] == "add_to_cart",
                              buy=sessions["event_type"] == "purchase").groupby("session_id")
    table = pd.DataFrame({
        "n": grouped.size(),
        "duration_s": (grouped["ts"].max() - grouped["ts"].min()).dt.total_seconds(),
        "carts": grouped["cart"].sum().astype(int),
        "buys": grouped["buy"].sum().astype(int),
    })
    table["per_minute"] = table["n"] / (table["duration_s"] / 60.0).clip(lower=1.0)
    return table


def _records(sessions: pd.DataFrame, session_id: str, user: str,
             every_s: float | None = None) -> list[dict[str, object]]:
    """The session's events as request records; ``every_s`` re-times them that far apart."""
    rows = sessions[sessions["session_id"] == session_id].sort_values("timestamp", kind="stable")
    start = rows["timestamp"].iloc[0]
    return [{"user_id": user, "event_type": r.event_type, "item_id": str(r.item_id),
             "category_id": str(r.category_id), "price": PRICE,
             "timestamp": (r.timestamp if every_s is None
                           else start + pd.Timedelta(seconds=i * every_s)).isoformat()}
            for i, r in enumerate(rows.itertuples(index=False))]


@pytest.fixture(scope="module")
def sessions(model_settings: Settings) -> pd.DataFrame:
    """The sessionised Taobao log, built once for both tests (read only)."""
    return _sessions(model_settings)


@pytest.fixture(scope="module")
def rates(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per-session counts and pace (:func:`_session_rate`), built once for both tests (read only)."""
    return _session_rate(sessions)


@pytest.fixture(scope="module")
def service_client(model_settings: Settings) -> Iterator[TestClient]:
    with make_client(model_settings, load_models=True, auto_decide="off") as client:
        wait_ready(client, ("behaviour", "intervene"))
        service = client.app.state.service  # type: ignore[attr-defined]
        parser = small_parser(model_settings)
        service.models["text"] = ModelSlot("text", lambda: parser_model(parser))
        assert service.models["text"].load()
        yield client


def _post_session(client: TestClient, records: list[dict[str, object]]) -> str:
    body = client.post("/v1/events", json={"events": records}, headers=AUTH).json()
    assert body["stored"] == len(records), body
    sids = {r["session_id"] for r in body["results"]}
    assert len(sids) == 1
    return sids.pop()


def test_a_bot_like_session_gets_no_coupon_and_a_person_keeps_them(sessions: pd.DataFrame, rates: pd.DataFrame,
                                                                     service_client: TestClient) -> None:
    carted = rates[(rates["carts"] > 0) & (rates["buys"] == 0)]
    longest = carted.sort_values("n", ascending=False).index[0]
    person = carted[(carted["n"] >= 5) & (carted["per_minute"] < 1.0)].sort_values("n").index[0]
    guardrail = CapConfig().max_risk_for_coupon
    assert carted["per_minute"].max() < 15.0  # no real session is this fast: the re-timed one is

    bot_sid = _post_session(service_client, _records(sessions, longest, "bot-like-shopper", every_s=1.0))
    decision = service_client.post("/v1/decisions", json={"session_id": bot_sid}, headers=AUTH).json()
    assert decision["context"]["risk_score"] >= guardrail
    coupons = [a for a in ("coupon_5", "coupon_10", "coupon_15")]
    assert all(decision["blocked"].get(a) == "guardrail_risk" for a in coupons), decision["blocked"]
    assert not decision["action"].startswith("coupon")

    person_sid = _post_session(service_client, _records(sessions, person, "person-shopper"))
    decision = service_client.post("/v1/decisions", json={"session_id": person_sid},
                                   headers=AUTH).json()
    assert decision["context"]["risk_score"] == 0.0
    assert not any(decision["blocked"].get(a) == "guardrail_risk" for a in coupons)
    assert decision["context"]["cart_value"] >= PRICE


def test_a_help_intent_swaps_coupons_for_a_likelier_chat(sessions: pd.DataFrame, rates: pd.DataFrame,
                                                        service_client: TestClient) -> None:
    real = rates[(rates["carts"] > 0) & (rates["buys"] == 0) & (rates["per_minute"] < 1.0)
                 & (rates["n"] >= 4)].sort_values("n").index[1]
    quiet = _post_session(service_client, _records(sessions, real, "shopper-quiet"))
    asking = _post_session(service_client, _records(sessions, real, "shopper-asking"))

    parsed = service_client.post("/v1/intent", json={"text": "I want a refund for my order",
                                                     "session_id": asking}, headers=AUTH)
    assert parsed.status_code == 200 and parsed.json()["intent"] == "get_refund"
    unknown = service_client.post("/v1/intent", json={"text": "refund", "session_id": "s_guess"},
                                  headers=AUTH)
    assert unknown.status_code == 404

    without = service_client.post("/v1/decisions", json={"session_id": quiet}, headers=AUTH).json()
    with_help = service_client.post("/v1/decisions", json={"session_id": asking}, headers=AUTH).json()
    assert without["context"]["intent"] is None and with_help["context"]["intent"] == "get_refund"
    for key in ("purchase_probability", "abandonment_risk", "risk_score", "cart_value"):
        assert without["context"][key] == with_help["context"][key]  # the same real session
    chat_before = without["probabilities"]["chat_assist"]
    chat_after = with_help["probabilities"]["chat_assist"]
    assert chat_after > chat_before
    coupons = ("coupon_5", "coupon_10", "coupon_15")
    assert all(with_help["blocked"].get(a) == "ineligible_help_intent" for a in coupons)
    assert all(with_help["probabilities"].get(a, 0.0) == 0.0 for a in coupons)
    assert not any(without["blocked"].get(a) == "ineligible_help_intent" for a in coupons)
    assert any(without["probabilities"].get(a, 0.0) > 0.0 for a in coupons)
