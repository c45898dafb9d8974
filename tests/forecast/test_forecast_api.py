"""``GET /v1/forecast`` from the live store: a category's hourly demand with ordered bands; too little history is a 422."""

from __future__ import annotations

import pandas as pd

from shopintent.datasets import taobao_userbehavior_head
from shopintent.privacy import Pseudonymizer
from shopintent.settings import Settings
from shopintent.store.ingest import ingest_events
from tests.serve.conftest import AUTH, make_client


def test_forecast_of_the_busiest_category_from_stored_real_events(settings: Settings) -> None:
    events = taobao_userbehavior_head.load(settings).events
    busiest = events[events["event_type"] == "purchase"]["category_id"].value_counts().index[0]
    with make_client(settings) as client:
        service = client.app.state.service
        pseudonymizer = Pseudonymizer.from_settings(settings)
        service.gateway.call(lambda store: ingest_events(store, events, pseudonymizer)).result(timeout=120)
        response = client.get("/v1/forecast", params={"category": busiest, "horizon": 6}, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["category"] == busiest and len(body["forecast"]) == 6 and len(body["history"]) == 48
        assert body["model"] in ("SeasonalNaive", "Naive", "ADIDA", "AutoETS")
        first = pd.Timestamp(body["forecast"][0]["ds"])
        assert first == pd.Timestamp(body["history"][-1]["ds"]) + pd.Timedelta(hours=1)
        for point in body["forecast"]:
            assert 0 <= point["lo_95"] <= point["lo_80"] <= point["forecast"] <= point["hi_80"] <= point["hi_95"]
        unknown = client.get("/v1/forecast", params={"category": "no-such-category"}, headers=AUTH)
        assert unknown.status_code == 422 and "0 hours of events" in unknown.json()["detail"]
        assert client.get("/v1/forecast").status_code == 401
