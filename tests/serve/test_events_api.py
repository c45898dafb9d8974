"""POST /v1/events: committed to the event log before the answer (stored by the sink behind it,
or before the answer with ?wait=store), a status per event, idempotent, keyed."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shopintent.settings import Settings
from tests.serve.conftest import AUTH, make_client, taobao_records

VIEW = {"event_id": "e-1", "user_id": "1001", "session_id": "web-7",
        "timestamp": "2024-05-01T09:00:00Z", "event_type": "view", "item_id": "sku-1"}


def _stored_events(client: TestClient):  # type: ignore[no-untyped-def]
    """The store's events once the sink has stored everything the log holds."""
    service = client.app.state.service  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while service.log_pending():
        assert time.monotonic() < deadline, "the store sink did not catch up"
        time.sleep(0.01)
    return service.gateway.call(lambda store: store.events()).result()


def test_batch_keeps_good_events_and_names_each_bad_one(client: TestClient) -> None:
    batch = [
        VIEW,
        {**VIEW, "event_id": "e-2", "event_type": "teleport"},
        {**VIEW, "event_id": "e-3", "timestamp": "not-a-date"},
        {**VIEW, "event_id": "e-4", "event_type": "buy", "price": 19.9, "quantity": 2},
        {**VIEW, "event_id": "e-5", "event_type": "purchase", "item_id": None},
    ]
    response = client.post("/v1/events", json={"events": batch}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["stored"], body["duplicates"], body["rejected"]) == (5, 2, 0, 3)
    assert [r["status"] for r in body["results"]] == ["stored", "rejected", "rejected", "stored",
                                                      "rejected"]
    reasons = [r["reasons"] for r in body["results"]]
    assert reasons[1][0].startswith("`event_type` 'teleport' is not an event type")
    assert reasons[2] == ["`timestamp` 'not-a-date' is not a date (ISO-8601 or unix seconds)"]
    assert "required for view, cart, favourite and purchase events" in reasons[4][0]
    # Ids are keyed pseudonyms of the client's ids: the raw ids are neither stored nor echoed.
    ids = [r["event_id"] for r in body["results"]]
    assert all(i.startswith("e_") and len(i) == 34 for i in ids) and len(set(ids)) == 5
    stored = _stored_events(client)
    assert stored["event_id"].tolist() == [ids[0], ids[3]]
    assert stored["event_type"].tolist() == ["view", "purchase"]


def test_ids_are_pseudonymised_before_storage(client: TestClient) -> None:
    client.post("/v1/events", json=VIEW, headers=AUTH)
    stored = _stored_events(client)
    assert stored["user_id"].iloc[0].startswith("u_") and "1001" not in stored["user_id"].iloc[0]
    assert stored["session_id"].iloc[0].startswith("s_")


def test_resending_is_idempotent_with_and_without_client_ids(client: TestClient) -> None:
    anonymous = {k: v for k, v in VIEW.items() if k != "event_id"}
    first = client.post("/v1/events", json={"events": [VIEW, anonymous, anonymous]}, headers=AUTH).json()
    # Two identical anonymous clicks in one request are two events (both kept).
    assert (first["stored"], first["duplicates"]) == (3, 0)
    again = client.post("/v1/events", json={"events": [VIEW, anonymous, anonymous]}, headers=AUTH).json()
    assert (again["stored"], again["duplicates"]) == (0, 3)
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3
    within = client.post("/v1/events", json={"events": [{**VIEW, "event_id": "x"}] * 2},
                         headers=AUTH).json()
    assert [r["status"] for r in within["results"]] == ["stored", "duplicate"]
    assert len(_stored_events(client)) == 4


def test_live_session_state_follows_stored_events(client: TestClient) -> None:
    events = [
        {**VIEW, "event_id": "a"},
        {**VIEW, "event_id": "b", "event_type": "cart", "timestamp": "2024-05-01T09:02:00Z",
         "price": 20.0, "quantity": 2},
        {**VIEW, "event_id": "c", "event_type": "buy", "timestamp": "2024-05-01T09:05:00Z",
         "price": 20.0, "quantity": 2},
    ]
    body = client.post("/v1/events", json={"events": events}, headers=AUTH).json()
    session_id = body["results"][0]["session_id"]
    assert session_id.startswith("s_") and {r["session_id"] for r in body["results"]} == {session_id}
    # Looked up by the id the service issued; the client's raw session id is not an address.
    state = client.get(f"/v1/sessions/{session_id}", headers=AUTH).json()
    assert state["counts"]["view"] == 1 and state["counts"]["add_to_cart"] == 1
    assert state["counts"]["purchase"] == 1
    assert state["revenue"] == 40.0 and state["cart_value"] == 0.0
    assert state["last"] - state["start"] == 300.0
    raw = client.get("/v1/sessions/web-7", headers=AUTH)
    assert raw.status_code == 404 and "POST /v1/events" in raw.json()["detail"]
    # A duplicate never counts twice.
    client.post("/v1/events", json={"events": events}, headers=AUTH)
    assert client.get(f"/v1/sessions/{session_id}", headers=AUTH).json()["counts"]["view"] == 1
    assert client.get("/v1/sessions/nobody", headers=AUTH).status_code == 404
    funnel = client.get("/v1/dashboard", headers=AUTH).json()["funnel"]
    assert [f["sessions"] for f in funnel] == [1, 1, 1]


def test_sessions_without_client_ids_split_on_the_inactivity_gap(client: TestClient) -> None:
    base = {"user_id": "42", "event_type": "view", "item_id": "i"}
    times = ["2024-05-01T09:00:00Z", "2024-05-01T09:29:00Z", "2024-05-01T10:05:00Z"]
    body = client.post("/v1/events", json={"events": [{**base, "timestamp": t} for t in times]},
                       headers=AUTH).json()
    sessions = [r["session_id"] for r in body["results"]]
    assert sessions[0] == sessions[1] != sessions[2]


def test_write_endpoints_need_a_valid_api_key(client: TestClient) -> None:
    missing = client.post("/v1/events", json=VIEW)
    wrong = client.post("/v1/events", json=VIEW, headers={"X-API-Key": "nope"})
    assert missing.status_code == wrong.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    assert "nope" not in wrong.text
    assert client.post("/v1/decisions", json={"session_id": "s"}).status_code == 401
    assert client.post("/v1/outcomes", json={"decision_id": "d", "kind": "purchase"}).status_code == 401
    assert len(_stored_events(client)) == 0


def test_keys_come_from_settings_and_are_never_logged(settings: Settings, capfd) -> None:  # type: ignore[no-untyped-def]
    # Keys long and odd enough that no temp-folder name or timestamp in the log can hold them by chance.
    first, second = "key-first-Qz7vX", "key-second-Wp4mJ"
    keyed = settings.model_copy(update={"api_keys": __import__("pydantic").SecretStr(f"{first}, {second}")})
    with make_client(keyed, api_keys=()) as c:
        assert c.post("/v1/events", json=VIEW, headers={"X-API-Key": second}).status_code == 200
        assert c.post("/v1/events", json=VIEW, headers={"X-API-Key": "key-third"}).status_code == 401
    out, err = capfd.readouterr()
    assert second not in out + err and first not in out + err


def test_malformed_bodies_get_422_naming_the_problem(client: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    cases = {
        "bad json": b'{"events": [',
        "not an object": b'"hello"',
        "a bare list": b'[{"user_id": "1"}]',
        "events not a list": b'{"events": "x"}',
        "a field beside events": b'{"events": [], "colour": "red"}',
    }
    for name, body in cases.items():
        response = client.post("/v1/events", content=body, headers={**AUTH, **json_type})
        assert response.status_code == 422, (name, response.status_code, response.text)
        assert response.json()["detail"], name
    shape = client.post("/v1/events", content=cases["not an object"], headers={**AUTH, **json_type})
    assert 'one event (a JSON object) or {"events": [...]}' in shape.json()["detail"]
    beside = client.post("/v1/events", json={"events": [], "colour": "red"}, headers=AUTH).json()
    assert beside["errors"][0]["field"] == "colour"
    assert client.post("/v1/events", json={"events": "x"}, headers=AUTH).json()[
        "errors"][0]["field"] == "events"
    assert len(_stored_events(client)) == 0


@pytest.mark.parametrize("mode", ["sync", "stream"])
def test_a_type_error_rejects_only_its_event(settings: Settings, mode: str) -> None:
    real = taobao_records(settings, 6)
    bad = [
        {**real[1], "price": "abc"},
        {**real[2], "quantity": [1]},
        {**real[3], "user_id": {"id": 7}},
        {**real[4], "colour": "red"},
        {**real[5], "session_id": "web-\ud800"},
        42,
    ]
    batch = [real[0], *bad]
    with make_client(settings) as c:
        # JSON's \u escape carries the lone surrogate (no UTF-8 encoder would).
        response = c.post("/v1/events", params={"mode": mode},
                          content=json.dumps({"events": batch}).encode("ascii"),
                          headers={**AUTH, "content-type": "application/json"})
        assert response.status_code == (200 if mode == "sync" else 202), response.text
        body = response.json()
        assert (body["received"], body["rejected"]) == (7, 6)
        assert body["stored" if mode == "sync" else "accepted"] == 1
        results = body["results"]
        assert [r["index"] for r in results] == list(range(7))
        assert [r["status"] for r in results][1:] == ["rejected"] * 6
        assert [r["reasons"] for r in results][1:5] == [
            ["`price` 'abc' is not a number"],
            ["`quantity` [1] is not a whole number"],
            ["`user_id` {'id': 7} is not an id (text or an integer)"],
            ["`colour` is not an event field (event_id, user_id, session_id, timestamp, "
             "event_type, item_id, category_id, query, price, quantity)"],
        ]
        assert results[5]["reasons"] == ["`session_id` 'web-\\ud800' contains invalid Unicode "
                                         "(a lone surrogate); send UTF-8 text"]
        assert results[6]["reasons"][0].startswith("`event` 42 is not a JSON object")
        # A refused event with a usable client id is answered with that id's keyed form, as
        # ingest answers an event the validator refuses; the raw id is never echoed.
        semantic = c.post("/v1/events", json={**real[1], "event_type": "teleport"},
                          headers=AUTH).json()["results"][0]
        assert results[1]["event_id"] == semantic["event_id"]
        assert results[1]["event_id"].startswith("e_") and results[6]["event_id"] is None
        assert real[1]["event_id"] not in response.text
        deadline = time.monotonic() + 10
        while len(_stored_events(c)) < 1:
            assert time.monotonic() < deadline, "the stream consumer did not store the event"
            time.sleep(0.05)
        assert len(_stored_events(c)) == 1
        metrics = c.get("/metrics", headers=AUTH).text
        source = "http" if mode == "sync" else "stream"
        assert f'shopintent_events_total{{outcome="rejected",source="{source}"}} ' in metrics
        rejected = c.get("/v1/dashboard", headers=AUTH).json()["events"]["rejected"]
        assert rejected == 7  # six set aside at the edge, one refused by the validator


def test_a_single_event_with_a_type_error_is_answered_like_one_in_a_batch(
        client: TestClient) -> None:
    response = client.post("/v1/events", json={**VIEW, "price": "abc"}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["stored"], body["rejected"]) == (1, 0, 1)
    assert body["results"][0]["reasons"] == ["`price` 'abc' is not a number"]


def test_openapi_documents_the_event_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    refs = {branch["$ref"].rsplit("/", 1)[-1] for branch in body["schema"]["oneOf"]}
    assert refs == {"EventBatch", "EventIn"}
    schemas = spec["components"]["schemas"]
    assert schemas["EventBatch"]["properties"]["events"]["items"]["$ref"].endswith("/EventIn")
    assert {"user_id", "timestamp", "event_type", "price", "quantity"} <= set(
        schemas["EventIn"]["properties"])


def test_bodies_over_the_limit_get_413(settings: Settings) -> None:
    with make_client(settings, max_body_bytes=4096, max_batch_events=5) as c:
        big = {"events": [{**VIEW, "event_id": str(i), "query": "x" * 500} for i in range(20)]}
        response = c.post("/v1/events", json=big, headers=AUTH)
        assert response.status_code == 413 and "4,096 bytes" in response.json()["detail"]
        many = {"events": [{**VIEW, "event_id": str(i)} for i in range(6)]}
        response = c.post("/v1/events", json=many, headers=AUTH)
        assert response.status_code == 413 and "limit is 5" in response.json()["detail"]

        def chunks():  # no Content-Length: the limit is enforced while reading
            for _ in range(10):
                yield b" " * 1000

        response = c.post("/v1/events", content=chunks(), headers={**AUTH, "content-type": "application/json"})
        assert response.status_code == 413


def test_health_readiness_and_prometheus_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["store"] and ready["stream"]
    assert set(ready["models"]) == {"text", "behaviour", "recommend", "intervene", "risk"}
    client.post("/v1/events", json={"events": [VIEW, {**VIEW, "event_id": "z", "event_type": "?"}]},
                headers=AUTH)
    text = client.get("/metrics", headers=AUTH).text
    assert 'shopintent_events_total{outcome="stored",source="http"} 1.0' in text
    assert 'shopintent_events_total{outcome="rejected",source="http"} 1.0' in text
    assert ('shopintent_http_request_duration_seconds_count{method="POST",route="/v1/events",'
            'status="2xx"} 1.0') in text
    assert "shopintent_model_ready" in text


def test_models_that_are_not_loaded_answer_503_with_the_reason(client: TestClient) -> None:
    session = client.post("/v1/events", json=VIEW, headers=AUTH).json()["results"][0]["session_id"]
    response = client.post("/v1/intent", json={"text": "where is my order"}, headers=AUTH)
    assert response.status_code == 503 and "text" in response.json()["detail"]
    assert client.get("/v1/recommendations", params={"session": session},
                      headers=AUTH).status_code == 503
    assert client.post("/v1/decisions", json={"session_id": session}, headers=AUTH).status_code == 503
    state = client.get(f"/v1/sessions/{session}", headers=AUTH).json()
    assert state["scores"] is None and state["scores_unavailable"]


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/events", "/v1/sessions/{session_id}", "/v1/intent", "/v1/recommendations",
                 "/v1/decisions", "/v1/outcomes", "/healthz", "/readyz", "/metrics"):
        assert path in paths
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_one_far_future_event_cannot_move_the_live_clock(settings: Settings, backend: str,
                                                         request: pytest.FixtureRequest) -> None:
    real = taobao_records(settings, 300)
    shopper = real[150]
    future = {"user_id": shopper["user_id"], "timestamp": "2099-01-01T00:00:00Z",
              "event_type": "view", "item_id": shopper["item_id"]}
    options: dict[str, object] = {}
    if backend == "redis":
        options = {"state": "redis", "redis_url": request.getfixturevalue("redis_url"),
                   "stream_name": f"clock{time.monotonic_ns()}"}
    with make_client(settings) as reference, make_client(settings, **options) as c:
        reference.post("/v1/events", json={"events": real}, headers=AUTH)
        body = c.post("/v1/events", json={"events": [*real[:150], future, *real[150:]]},
                      headers=AUTH).json()
        assert (body["stored"], body["rejected"]) == (300, 1)
        (reason,) = body["results"][150]["reasons"]
        assert reason.startswith("`timestamp` '2099-01-01T00:00:00Z' is ")
        assert reason.endswith(" years in the future; the limit is 300 s "
                               "(SHOPINTENT_MAX_FUTURE_SKEW_S)")
        expected = reference.app.state.service.state  # type: ignore[attr-defined]
        state = c.app.state.service.state  # type: ignore[attr-defined]
        newest = max(pd.Timestamp(r["timestamp"]) for r in real).timestamp()
        assert state.clock() == expected.clock() == newest
        assert state.count_live() == expected.count_live() > 0
        assert c.get("/v1/dashboard", headers=AUTH).json()["live_sessions"] == expected.count_live()
