"""The lean ASGI path of POST /v1/events answers exactly as the FastAPI route it stands in for.

The same requests — ordinary ones the fast path keeps and odd ones it hands to the route —
go to an app with the fast path and to one without it (the route alone); status, body and
the headers a client reads must be the same, and the ordinary ones must not reach FastAPI.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shopintent.serve import ServeConfig, create_app
from shopintent.serve.routers.lean import LeanPaths
from shopintent.serve.schemas.events import plain_batch
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
    # Ordinary batches, validated into records without models (plain_batch), and batches it
    # leaves to the general validation (an integer id, an escaped lone surrogate).
    ("", W, {"events": [{**VIEW, "event_id": "p-1"}, {**VIEW, "event_id": "p-2", "price": None,
                                                      "query": "中文 café", "event_type": "search"},
                        {**VIEW, "event_id": "p-3", "event_type": "buy", "price": 9.5, "quantity": 2,
                         "timestamp": 1714554000}]}),
    ("?mode=stream", W, {"events": [{**VIEW, "event_id": "p-4"}, {**VIEW, "event_id": "p-5",
                                                                   "session_id": None}]}),
    ("", W, {"events": [{**VIEW, "event_id": 17}, {**VIEW, "event_id": "p-6", "user_id": 1001}]}),
    ("", W, b'{"events": [{"user_id": "1001", "timestamp": "2024-05-01T09:00:00Z", '
            b'"event_type": "search", "query": "bad \\ud800 text", "event_id": "p-7"}]}'),
    ("", W, {"events": [{**VIEW, "event_id": "p-8"}] * 6}),  # a plain batch over the limit: 413
    ("", W, {"events": []}),
]
KEPT = 5
PLAIN = 6  # the last ones, all kept


def _answers(settings: Settings, fast: bool) -> list[tuple[int, Any, dict[str, str]]]:
    app = create_app(settings, ServeConfig(store_path=":memory:", api_keys=(API_KEY, f"{READ_KEY}:read"),
                                           train_missing=False, max_batch_events=5),
                     load_models=False)
    if not fast:  # the route alone, as before the fast path
        app.user_middleware = [m for m in app.user_middleware if m.cls is not LeanPaths]
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


def test_fast_path_answers_as_the_route(settings: Settings, lean_kept: list[bool]) -> None:
    kept = lean_kept
    fast = _answers(settings, fast=True)
    # The ordinary ones and the 413 (the route's own answer, after the key check) stay on the
    # fast path; every other one is handed to the route.
    assert kept == [True] * KEPT + [False] * (len(REQUESTS) - KEPT - 1 - PLAIN) + [True] * (1 + PLAIN)
    slow = _answers(settings, fast=False)
    for request, f, s in zip(REQUESTS, fast, slow, strict=True):
        assert f == s, request
    assert [status for status, _, _ in fast] == [200, 200, 200, 202, 200, 401, 401, 403, 401, 422,
                                                 422, 422, 422, 422, 422, 422, 413,
                                                 200, 202, 200, 200, 413, 200]
    assert [r["status"] for r in fast[17][1]["results"]] == ["stored"] * 3
    assert [r["status"] for r in fast[20][1]["results"]] == ["rejected"]  # the lone surrogate


# --- plain_batch: the records of an ordinary batch without models -------------------------

def _general_records(data: Any) -> list[dict[str, Any]] | None:
    """What the general path makes of a body: its records, or None if any event is set aside."""
    from shopintent.serve.routers.events_fast import _BODY
    from shopintent.serve.schemas.events import EventBatch, InvalidEvent

    payload = _BODY.validate_python(data)
    entries = payload.events if isinstance(payload, EventBatch) else [payload]
    if any(isinstance(e, InvalidEvent) for e in entries):
        return None
    return [e.model_dump(exclude_none=True) for e in entries]


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**60, 2**60), st.floats(allow_nan=False),
    st.text(max_size=12), st.text(alphabet=st.sampled_from("a\x00\ud800\udfff中é"), max_size=4),
    st.just("x" * 257), st.just("1" * 65), st.lists(st.integers(), max_size=1),
    st.sampled_from(["view", "cart", "2024-05-01T09:00:00Z", "9.50", "u-1"]))
_FIELDS = st.sampled_from(["event_id", "user_id", "session_id", "timestamp", "event_type",
                           "item_id", "category_id", "query", "price", "quantity", "colour"])


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_FIELDS, _VALUES, max_size=6), max_size=4), st.booleans())
def test_plain_batch_gives_the_general_records_or_declines(events: list[dict[str, Any]],
                                                           ascii_only: bool) -> None:
    body = json.dumps({"events": events}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        data = json.loads(body)
    except ValueError:
        return  # not UTF-8 (a raw lone surrogate): the route's 422, never validated
    records = plain_batch(data, body)
    if records is not None:
        assert records == _general_records(data)
        assert [list(r) for r in records] == [list(r) for r in _general_records(data) or []]


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_FIELDS, _VALUES, max_size=6), st.booleans())
def test_plain_batch_gives_the_general_record_of_one_event_or_declines(event: dict[str, Any],
                                                                        ascii_only: bool) -> None:
    """A body that is one event object (what a live shop sends per request) takes the same rule."""
    body = json.dumps(event, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        data = json.loads(body)
    except ValueError:
        return
    records = plain_batch(data, body)
    if records is not None:
        assert records == _general_records(data)
        assert [list(r) for r in records] == [list(r) for r in _general_records(data) or []]


def test_plain_batch_takes_real_taobao_events_one_per_body(settings: Settings) -> None:
    from shopintent.serve.replay import taobao_stream

    for i, event in enumerate(taobao_stream(settings, limit=300)):
        body = json.dumps(dict(event, event_id=f"o-{i}")).encode()
        records = plain_batch(json.loads(body), body)
        assert records is not None and len(records) == 1
        assert records == _general_records(json.loads(body))


def test_plain_batch_takes_real_taobao_batches(settings: Settings) -> None:
    """Not vacuous: real events, as a shop sends them, take the plain path with the same records."""
    from shopintent.serve.replay import taobao_stream

    events = [dict(e, event_id=f"t-{i}") for i, e in enumerate(taobao_stream(settings, limit=1000))]
    for start in range(0, len(events), 250):
        data = {"events": events[start:start + 250]}
        body = json.dumps(data).encode()
        records = plain_batch(json.loads(body), body)
        assert records is not None and records == _general_records(json.loads(body))
