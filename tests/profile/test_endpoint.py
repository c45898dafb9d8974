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


def test_live_fairness_rates_use_bounded_labels_and_flag_a_gap_past_the_bound(settings: Settings) -> None:
    events = taobao.load(settings).events.iloc[:8_000]
    pseudonymizer = Pseudonymizer.from_settings(settings)
    with EventStore(key_id=pseudonymizer.key_id) as store:
        ingest_events(store, events, pseudonymizer)
        profiles = build_profiles(store, settings)
    by_segment = profiles.groupby("segment").head(1)
    (low_user, low_seg), (high_user, high_seg) = list(by_segment["segment"].items())[:2]
    with _client(settings) as client:
        watch = client.app.state.service.fairness  # type: ignore[attr-defined]
        for k in range(40):
            watch.observe(low_user, "coupon_5" if k % 4 == 0 else "nothing")  # 25 %
            watch.observe(high_user, "coupon_5" if k % 2 == 0 else "nothing")  # 50 %
        for k in range(500):
            watch.observe(f"u_never_issued_{k}", "nothing")  # one label, however many ids
        live = client.get("/v1/fairness/live", headers={"X-API-Key": KEY}).json()
        metrics = client.get("/metrics", headers={"X-API-Key": KEY}).text
    rates = {g["group"]: g["rate"] for g in live["groups"]}
    assert rates[f"segment {low_seg}"] == 0.25 and rates[f"segment {high_seg}"] == 0.5
    assert rates["unprofiled"] == 0.0
    assert live["gap"] == 0.5 and live["bound"] == settings.fairness_gap_bound and live["flagged"]
    series = [line for line in metrics.splitlines() if line.startswith("shopintent_fairness_decisions_total")]
    assert len(series) == 3 and 'group="unprofiled"} 500.0' in metrics
