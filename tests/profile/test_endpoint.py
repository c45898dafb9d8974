"""``GET /v1/users/{id}/profile``: read scope, issued pseudonymous ids only, a clear 503 before a build,
then live profiles the store sink keeps current (equal to the batch profile of the same store)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.privacy import Pseudonymizer
from shopintent.profile import ProfileModel, batch_profile_features
from shopintent.profile.build import build_profiles, profile_dir, profile_record
from shopintent.serve import ServeConfig, create_app
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import ingest_events

KEY = "test-api-key-not-secret"
WRITER = "test-writer-key-not-secret"


def _client(settings: Settings, store_path: str = ":memory:") -> TestClient:
    config = ServeConfig(store_path=store_path, api_keys=(f"{KEY}:read", f"{WRITER}:write"), train_missing=False)
    return TestClient(create_app(settings, config, load_models=False))


def _records(events: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as a shop posts them (raw ids, ISO-8601 times)."""
    frame = events[["event_id", "user_id", "session_id", "timestamp", "event_type", "item_id", "category_id"]]
    frame = frame.assign(timestamp=frame["timestamp"].map(lambda t: t.isoformat()))
    return [{k: v for k, v in r.items() if v is not None}
            for r in frame.astype(object).where(frame.notna(), None).to_dict("records")]


def test_profile_endpoint_answers_issued_ids_only_and_folds_posted_events_live(
        settings: Settings, tmp_path: Path) -> None:
    with _client(settings) as client:
        before = client.get("/v1/users/u_x/profile", headers={"X-API-Key": KEY})
    assert before.status_code == 503 and "shopintent profile build" in before.json()["detail"]

    events = taobao.load(settings).events.iloc[:8_000]  # the head is ordered by shopper: ~70 shoppers
    raw_id = str(events["user_id"].iloc[0])
    late = events[events["user_id"] == raw_id].sort_values("timestamp").tail(12)  # arrive through the API
    pseudonymizer = Pseudonymizer.from_settings(settings)
    path = str(tmp_path / "events.duckdb")
    with EventStore(path, key_id=pseudonymizer.key_id) as store:
        ingest_events(store, events.drop(late.index), pseudonymizer)
        profiles = build_profiles(store, settings)
    issued = pseudonymizer.pseudonymize(raw_id, "user")
    assert issued in profiles.index
    with _client(settings, path) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        ok = client.get(f"/v1/users/{issued}/profile", headers={"X-API-Key": KEY})
        raw = client.get(f"/v1/users/{raw_id}/profile", headers={"X-API-Key": KEY})
        anonymous = client.get(f"/v1/users/{issued}/profile")
        # The shopper's newest real events are posted; the store sink folds them into the live profile.
        posted = client.post("/v1/events?wait=store", json={"events": _records(late)},
                             headers={"X-API-Key": WRITER})
        assert posted.status_code == 200 and posted.json()["stored"] == len(late), posted.text
        # The first round after start catches up with the store in the background; the built file answers until then.
        assert service.profiles.wait_current(60)
        after = client.get(f"/v1/users/{issued}/profile", headers={"X-API-Key": KEY}).json()
        raw_after = client.get(f"/v1/users/{raw_id}/profile", headers={"X-API-Key": KEY})
        # The batch profile of the same store, annotated by the same saved model: what live must equal.
        batch = service.gateway.call(lambda s: batch_profile_features(s.engine())).result()
        last_seq = service.gateway.call(lambda s: s.last_seq()).result()
    assert ok.status_code == 200
    body = ok.json()
    assert body["source"] == "batch"  # nothing stored since the build: the built file answers
    assert body["user_id"] == issued and body["events"] == int(profiles.loc[issued, "events"])
    assert 0.0 <= body["purchase_probability"] <= 1.0 and body["price_band"] == "unknown"
    assert raw.status_code == 404 and raw_id not in raw.json()["detail"]  # never echoes the id
    assert anonymous.status_code == 401

    assert after["source"] == "live" and service.profiles.seq == last_seq and len(batch) == len(profiles)
    assert after["events"] == body["events"] + len(late)
    assert after["last_seen"] == late["timestamp"].max().isoformat()
    assert raw_after.status_code == 404 and raw_id not in raw_after.json()["detail"]
    expected = profile_record(ProfileModel.load(profile_dir(settings) / "model").annotate(batch), issued)
    for key, value in after.items():
        if key != "source":
            assert value == (pytest.approx(expected[key]) if isinstance(value, float) else expected[key]), key


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

