"""The lean ASGI path of POST /v1/intent answers exactly as the FastAPI route it stands in for.

The same requests — ordinary ones the lean path keeps and odd ones it hands to the route —
go to an app with the lean paths and to one without them (the route alone), both serving
the same real intent model (trained on a per-intent subset of the shop-intent train
split); status, body and the headers a client reads must be the same.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopintent.serve import ServeConfig, create_app
from shopintent.serve.adapters.base import ModelSlot
from shopintent.serve.adapters.text import parser_model
from shopintent.serve.routers.lean import LeanPaths
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY, small_parser

READ_KEY = "read-only-key-not-secret"
JSON = {"content-type": "application/json"}
W, R = {"X-API-Key": API_KEY, **JSON}, {"X-API-Key": READ_KEY, **JSON}

#: (query, headers, body, kept by the lean path)
REQUESTS: list[tuple[str, dict[str, str], Any, bool]] = [
    ("", W, {"text": "where is my order"}, True),
    ("", R, {"text": "我要退货，尺码太小了"}, True),  # the read scope is enough
    ("", R, {"text": "red running shoes size 42 under 300 yuan"}, True),
    ("?lang=en", R, {"text": "do you have this in blue"}, True),  # the route takes no query
    ("", R, {"text": "hi", "session_id": "no-such-session"}, True),  # 404 from the answer
    ("", {"X-API-Key": "wrong", **JSON}, {"text": "hi"}, False),
    ("", JSON, {"text": "hi"}, False),
    ("", R, {"text": ""}, False),
    ("", R, {"text": "hi", "colour": "red"}, False),
    ("", R, {"text": 17}, False),
    ("", R, ["hi"], False),
    ("", R, b"{not json", False),
    ("", R, b"", False),
    ("", {"X-API-Key": READ_KEY, "content-type": "text/plain"}, {"text": "hi"}, False),
]


@pytest.fixture(scope="module")
def parser(model_settings: Settings) -> Any:
    return small_parser(model_settings)


def _answers(settings: Settings, parser: Any, lean: bool) -> list[tuple[int, Any, dict[str, str]]]:
    app = create_app(settings, ServeConfig(store_path=":memory:", api_keys=(API_KEY, f"{READ_KEY}:read"),
                                           train_missing=False), load_models=False)
    if not lean:  # the route alone
        app.user_middleware = [m for m in app.user_middleware if m.cls is not LeanPaths]
    answers = []
    with TestClient(app) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        service.models["text"] = ModelSlot("text", lambda: parser_model(parser))
        assert service.models["text"].load()
        for query, headers, body, _ in REQUESTS:
            content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
            response = client.post("/v1/intent" + query, content=content, headers=headers)
            shown = {k: v for k, v in response.headers.items()
                     if k in ("retry-after", "www-authenticate", "content-type")}
            answers.append((response.status_code, response.json(), shown))
        metrics = client.get("/metrics", headers={"X-API-Key": READ_KEY}).text
    assert 'route="/v1/intent",status="2xx"' in metrics  # lean answers keep their route label
    return answers


def test_intent_lean_path_answers_as_the_route(model_settings: Settings, parser: Any,
                                                lean_kept: list[bool]) -> None:
    kept = lean_kept
    lean = _answers(model_settings, parser, lean=True)
    assert kept == [k for *_, k in REQUESTS]
    route = _answers(model_settings, parser, lean=False)
    for request, a, b in zip(REQUESTS, lean, route, strict=True):
        assert a == b, request
    assert [status for status, _, _ in lean] == [200, 200, 200, 200, 404, 401, 401, 422, 422, 422, 422,
                                                 422, 422, 422]
    assert lean[0][1]["intent"] and lean[1][1]["language"] == "zh"
