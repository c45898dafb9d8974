"""The lean ASGI path of POST /v1/events answers exactly as the FastAPI route it stands in for.

The same requests — ordinary ones the fast path keeps and odd ones it hands to the route —
go to an app with the fast path and to one without it (the route alone); status, body and
the headers a client reads must be the same, and the ordinary ones must not reach FastAPI.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from shopintent.serve import ServeConfig, create_app
from shopintent.serve.routers.events_fast import EventsFastPath
from shopintent.settings import Settings
from tests.serve.conftest import API_KEY

READ_KEY = "read-only-key-not-secret"
VIEW = {"event_id": "f-1", "user_id": "1001", "session_id": "web-7",
        "timestamp": "2024-05-01T09:00:00Z", "event_type": "view", "item_id": "sku-1"}
JSON = {"content-type": "application/json"}
W, R = {"X-API-Key": API_KEY, **JSON}, {"X-API-Key": READ_KEY, **JSON}

#: (query, headers, body): the fast path keeps the first five and the last.
REQUESTS: list[tuple[str, dict[str, str], Any]] = [
    ("", W, VIEW),
    ("", W, {"events": [VIEW, {**VIEW, "event_id": "f-2", "event_type": "cart"},
                        {**VIEW, "event_id": "f-3", "price": "abc"}, [1],
                        {**VIEW, "event_id": "f-4", "event_type": "teleport"}]}),
    ("", W, VIEW),  # a duplicate
    ("?mode=stream", W, {"events": [{**VIEW, "event_id": "f-5"}, {**VIEW, "colour": "red"}]}),
    ("?wait=store&mode=sync", W, {**VIEW, "event_id": "f-6"}),
    ("", {"X-API-Key": "wrong", **JSON}, VIEW),
    ("", JSON, VIEW),
    ("", R, VIEW),
    ("", JSON, b"{not json"),
    ("", W, b"{not json"),
    ("", W, b""),
    ("", W, {"events": "nope"}),
    ("", W, {"events": [], "colour": 1}),
    ("", W, [1, 2]),
    ("?mode=fast", W, VIEW),
    ("", {"X-API-Key": API_KEY, "content-type": "text/plain"}, VIEW),
    ("", W, {"events": [VIEW] * 6}),  # over max_batch_events (5): 413 from the answer
]
KEPT = 5


def _answers(settings: Settings, fast: bool) -> list[tuple[int, Any, dict[str, str]]]:
    app = create_app(settings, ServeConfig(store_path=":memory:", api_keys=(API_KEY, f"{READ_KEY}:read"),
                                           train_missing=False, max_batch_events=5),
                     load_models=False)
    if not fast:  # the route alone, as before the fast path
        app.user_middleware = [m for m in app.user_middleware if m.cls is not EventsFastPath]
    answers = []
    with TestClient(app) as client:
        for query, headers, body in REQUESTS:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            response = client.post("/v1/events" + query, content=content, headers=headers)
            kept = {k: v for k, v in response.headers.items()
                    if k in ("retry-after", "www-authenticate", "content-type")}
            answers.append((response.status_code, response.json(), kept))
        metrics = client.get("/metrics", headers={"X-API-Key": READ_KEY}).text
    # The fast path's requests keep their route label (and count as that route's).
    assert 'route="/v1/events",status="2xx"' in metrics
    return answers


def test_fast_path_answers_as_the_route(settings: Settings, monkeypatch: Any) -> None:
    kept: list[bool] = []
    original = EventsFastPath._answer

    async def counted(self: EventsFastPath, scope: Any, body: bytes) -> Any:
        response = await original(self, scope, body)
        kept.append(response is not None)
        return response

    monkeypatch.setattr(EventsFastPath, "_answer", counted)
    fast = _answers(settings, fast=True)
    # The ordinary ones and the 413 (the route's own answer, after the key check) stay on the
    # fast path; every other one is handed to the route.
    assert kept == [True] * KEPT + [False] * (len(REQUESTS) - KEPT - 1) + [True]
    slow = _answers(settings, fast=False)
    for request, f, s in zip(REQUESTS, fast, slow, strict=True):
        assert f == s, request
    assert [status for status, _, _ in fast] == [200, 200, 200, 202, 200, 401, 401, 403, 401, 422,
                                                 422, 422, 422, 422, 422, 422, 413]
