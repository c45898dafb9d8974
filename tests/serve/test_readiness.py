"""``/readyz`` is 503 until every model the service needs is loaded; ``/healthz`` stays 200."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from shopintent.risk.default import load_default_risk
from shopintent.serve import ServeConfig, create_app
from shopintent.serve.adapters.risk import risk_slot
from shopintent.serve.adapters.base import ModelSlot, ModelUnavailable
from shopintent.serve.adapters.text import parser_model
from shopintent.serve.routers.deps import get_service
from shopintent.serve.service import Service
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, make_client, small_parser


def _wait(condition, timeout_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_readyz_is_503_until_every_needed_model_is_loaded(model_settings: Settings, tmp_path: Path) -> None:
    secret_path = str(model_settings.state_dir / "text" / "models")
    attempts: list[str] = []

    def load_text():  # type: ignore[no-untyped-def]
        # The real loader's shape: first no model on disk, then a real (small) intent model.
        attempts.append(service.ready()["models"]["text"]["state"])
        if len(attempts) == 1:
            raise ModelUnavailable("text", f"no intent model in {secret_path} yet")
        return parser_model(small_parser(model_settings))

    config = ServeConfig(store_path=":memory:", api_keys=(API_KEY,), train_missing=False)
    service = Service(model_settings, config)
    service.models["text"] = ModelSlot("text", load_text)
    # the real default risk models, prepared in a folder of their own (the shared one stays without)
    risk_settings = model_settings.model_copy(update={"state_dir": tmp_path / "risk-state"})
    load_default_risk(risk_settings)
    service.models["risk"] = risk_slot(risk_settings)
    app = create_app(model_settings, config, load_models=False)
    app.dependency_overrides[get_service] = lambda: service
    with TestClient(app) as client:
        service.start(load_models=True)
        try:
            _wait(lambda: attempts and all(service.models[m].ready
                                           for m in ("intervene", "behaviour", "recommend", "risk")))
            _wait(lambda: service.models["text"].state == "unavailable")
            assert client.get("/healthz").status_code == 200
            response = client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert (body["status"], body["store"], body["stream"], body["history"]) == (
                "not ready", True, True, True)
            assert body["waiting_for"] == ["text"]
            assert body["models"]["text"] == {"needed": True, "ready": False,
                                              "state": "unavailable", "version": None}
            intervene = service.models["intervene"].card
            assert body["models"]["intervene"] == {"needed": True, "ready": True, "state": "ready",
                                                   "version": str(intervene["version"])}
            # No path and no failure reason: the engine's log path and the loader's message
            # stay inside.
            assert str(model_settings.state_dir) not in response.text
            assert "intent model" not in response.text
            assert str(intervene["log"]) not in response.text

            service.refresh_models(only_due=False)
            assert attempts == ["loading", "loading"]
            response = client.get("/readyz")
            assert response.status_code == 200
            body = response.json()
            assert body["status"] == "ready" and body["waiting_for"] == []
            assert {m["state"] for m in body["models"].values()} == {"ready"}
            # the text card says which intent model is live: its kind and validation accuracy
            assert body["models"]["text"]["version"].startswith("linear (USE + TF-IDF), validation")
        finally:
            service.stop()


def test_a_service_started_without_models_needs_none(settings: Settings) -> None:
    with make_client(settings, load_models=False) as client:
        response = client.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready" and body["waiting_for"] == []
        assert body["models"]["text"] == {"needed": False, "ready": False, "state": "off",
                                          "version": None}


def test_openapi_describes_the_readiness_body(settings: Settings) -> None:
    with make_client(settings) as client:
        spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/readyz"]["get"]["responses"]
    assert set(responses) >= {"200", "503"}
    states = spec["components"]["schemas"]["ModelReadiness"]["properties"]["state"]["enum"]
    assert states == ["ready", "loading", "unavailable", "off"]
