"""The service over the real default models: live scores, automatic decisions, outcomes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shopintent.settings import Settings
from tests.serve.conftest import AUTH, make_client, taobao_records, wait_ready


@pytest.fixture(scope="module")
def live(model_settings: Settings) -> Iterator[tuple[TestClient, dict]]:  # type: ignore[type-arg]
    """A service with behaviour + intervene loaded, fed the first 6,000 Taobao events."""
    records = taobao_records(model_settings, 6000)
    with make_client(model_settings, load_models=True, auto_decide="cart") as client:
        wait_ready(client, ("behaviour", "intervene", "recommend"))
        decisions = []
        for start in range(0, len(records), 500):
            body = client.post("/v1/events", json={"events": records[start : start + 500]},
                               headers=AUTH).json()
            assert body["stored"] == len(records[start : start + 500])
            decisions += body["decisions"]
        yield client, {"decisions": decisions, "records": records}


def test_live_sessions_are_scored_with_reasons(live) -> None:  # type: ignore[no-untyped-def]
    client, _ = live
    data = client.get("/v1/sessions", params={"limit": 10}, headers=AUTH).json()
    assert data["scores_unavailable"] is None and data["live"] > 10
    probabilities = [s["scores"]["purchase_probability"] for s in data["sessions"]]
    ranked = [p for p in probabilities if p is not None]
    assert ranked == sorted(ranked, reverse=True) and all(0.0 < p < 1.0 for p in ranked)
    top = data["sessions"][0]
    assert top["scores"]["events_scored"] == sum(top["counts"].values())
    assert len(top["scores"]["reasons"]) == 3 and top["scores"]["reasons"][0]["feature"]
    single = client.get(f"/v1/sessions/{top['session_id']}", headers=AUTH).json()
    assert single["scores"]["purchase_probability"] == pytest.approx(
        top["scores"]["purchase_probability"])
    assert set(single["scores"]["next_action"]) == {"view", "add_to_cart", "favourite", "purchase"}


def test_cart_events_trigger_logged_decisions_with_propensities(live) -> None:  # type: ignore[no-untyped-def]
    client, fed = live
    decisions = fed["decisions"]
    carts = sum(1 for r in fed["records"] if r["event_type"] in ("add_to_cart", "favourite"))
    assert 0 < len(decisions) <= carts
    assert all(0.0 < d["propensity"] <= 1.0 and d["trigger"] == "event" for d in decisions)
    assert {d["action"] for d in decisions} >= {"nothing"}
    metrics = client.get("/metrics", headers=AUTH).text
    assert "shopintent_decisions_total" in metrics
    dashboard = client.get("/v1/dashboard", headers=AUTH).json()
    assert sum(dashboard["decisions"].values()) == len(decisions)
    engine = client.app.state.service.models["intervene"].get()  # type: ignore[attr-defined]
    logged = engine.log.path.read_text().count('"type":"decision"')
    assert logged >= len(decisions)


def test_decision_on_request_and_outcome_join(live) -> None:  # type: ignore[no-untyped-def]
    client, _ = live
    listed = client.get("/v1/sessions", params={"limit": 1}, headers=AUTH).json()
    session = listed["sessions"][0]["session_id"]
    decision = client.post("/v1/decisions", json={"session_id": session}, headers=AUTH)
    assert decision.status_code == 200
    body = decision.json()
    assert body["session_id"] == session and 0.0 < body["propensity"] <= 1.0
    assert body["probabilities"][body["action"]] == pytest.approx(body["propensity"])
    assert body["context"]["purchase_probability"] > 0.0
    outcome = client.post("/v1/outcomes", json={"decision_id": body["decision_id"], "kind": "purchase",
                                                "value": 12.5}, headers=AUTH)
    assert outcome.status_code == 200 and outcome.json()["value"] == 12.5
    unknown = client.post("/v1/outcomes", json={"decision_id": "never", "kind": "purchase"}, headers=AUTH)
    assert unknown.status_code == 404
    assert client.post("/v1/decisions", json={"session_id": "nobody"}, headers=AUTH).status_code == 404


def test_readiness_lists_loaded_model_versions(live) -> None:  # type: ignore[no-untyped-def]
    client, _ = live
    ready = client.get("/readyz").json()
    assert ready["models"]["behaviour"]["ready"] and ready["models"]["intervene"]["ready"]
    assert ready["models"]["intervene"]["version"]
    assert 'shopintent_model_ready{model="behaviour"} 1.0' in client.get("/metrics", headers=AUTH).text


def test_recommendations_for_a_live_session_exclude_what_it_saw(live) -> None:  # type: ignore[no-untyped-def]
    client, _ = live
    session = client.get("/v1/sessions", params={"limit": 1}, headers=AUTH).json()["sessions"][0]
    response = client.get("/v1/recommendations", params={"session": session["session_id"], "k": 5},
                          headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["history"] == session["items"] and len(body["items"]) == 5
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert not {i["item_id"] for i in body["items"]} & set(session["items"])
    assert body["model"]["ready"] and body["model"]["version"]
    assert client.get("/v1/recommendations", params={"session": "nobody"},
                      headers=AUTH).status_code == 404
    assert client.get("/v1/recommendations", params={"session": session["session_id"], "k": 0},
                      headers=AUTH).status_code == 422
