"""``GET /v1/users/{id}/profile``: read scope, issued pseudonymous ids only, a clear 503 before a build."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.privacy import Pseudonymizer
from shopintent.profile.build import build_profiles
from shopintent.serve import ServeConfig, create_app
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events

KEY = "test-api-key-not-secret"


def _client(settings: Settings) -> TestClient:
    config = ServeConfig(store_path=":memory:", api_keys=(f"{KEY}:read",), train_missing=False)
    return TestClient(create_app(settings, config, load_models=False))


def test_profile_endpoint_answers_issued_ids_only(settings: Settings) -> None:
    with _client(settings) as client:
        before = client.get("/v1/users/u_x/profile", headers={"X-API-Key": KEY})
    assert before.status_code == 503 and "shopintent profile build" in before.json()["detail"]

    events = taobao.load(settings).events.iloc[:8_000]  # the head is ordered by shopper: ~70 shoppers
    pseudonymizer = Pseudonymizer.from_settings(settings)
    with EventStore(key_id=pseudonymizer.key_id) as store:
        ingest_events(store, events, pseudonymizer)
        profiles = build_profiles(store, settings)
    raw_id = str(events["user_id"].iloc[0])
    issued = pseudonymizer.pseudonymize(raw_id, "user")
    assert issued in profiles.index
    with _client(settings) as client:
        ok = client.get(f"/v1/users/{issued}/profile", headers={"X-API-Key": KEY})
        raw = client.get(f"/v1/users/{raw_id}/profile", headers={"X-API-Key": KEY})
        anonymous = client.get(f"/v1/users/{issued}/profile")
    assert ok.status_code == 200
    body = ok.json()
    assert body["user_id"] == issued and body["events"] == int(profiles.loc[issued, "events"])
    assert 0.0 <= body["purchase_probability"] <= 1.0 and body["price_band"] == "unknown"
    assert raw.status_code == 404 and raw_id not in raw.json()["detail"]  # never echoes the id
    assert anonymous.status_code == 401
