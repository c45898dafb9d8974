"""Keys, scopes, rate limits, bounded metric labels and session addressing, on the real app."""

from __future__ import annotations

import random
import re
import string
import uuid

import pytest
from fastapi.testclient import TestClient

from shopintent.serve import ServeConfig
from shopintent.serve.auth import KeyRing, parse_api_keys
from shopintent.serve.metrics import LANGUAGES, OTHER, OUTCOME_KINDS, UNMATCHED
from shopintent.settings import Settings
from tests.serve.conftest import make_client, taobao_records

READER, WRITER, FULL, ADMIN = "reader-key-1", "writer-key-2", "full-key-3", "admin-key-4"
KEYS = (f"{READER}:read", f"{WRITER}:write", FULL, f"{ADMIN}:admin")

#: The scope every /v1 operation needs; a new route fails the tests until it is listed here.
EXPECTED_SCOPES = {
    ("POST", "/v1/events"): "write",
    ("POST", "/v1/decisions"): "write",
    ("POST", "/v1/outcomes"): "write",
    ("POST", "/v1/risk/transactions"): "write",
    ("GET", "/v1/sessions"): "read",
    ("GET", "/v1/sessions/{session_id}"): "read",
    ("GET", "/v1/users/{user_id}/profile"): "read",
    ("GET", "/v1/fairness/live"): "read",
    ("POST", "/v1/intent"): "read",
    ("GET", "/v1/recommendations"): "read",
    ("GET", "/v1/dashboard"): "read",
    ("POST", "/v1/assist"): "write",
    ("GET", "/v1/assist/live"): "read",
    ("POST", "/v1/products"): "write",
    ("GET", "/v1/search"): "read",
    ("GET", "/v1/forecast"): "read",
    ("GET", "/v1/products/{product_id}/image"): "read",
}


def _key(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


def _routes(client: TestClient) -> list[tuple[str, set[str]]]:
    """(path template, methods) of every route the app serves, from ``app.routes``.

    FastAPI ≥ 0.160 keeps an included router as one lazy entry; its routes (with
    the prefix and the include-time dependencies) come from ``iter_route_contexts``.
    """
    routes = client.app.routes  # type: ignore[attr-defined]
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        return [(r.path, set(getattr(r, "methods", None) or ())) for r in routes]
    return [(c.path, set(getattr(c.original_route, "methods", None) or ()))
            for c in iter_route_contexts(routes) if c.path]


def _v1_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path template) of the app under /v1, HEAD aside."""
    return [(method, path) for path, methods in _routes(client) if path.startswith("/v1")
            for method in sorted(methods - {"HEAD"})]


def _url(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template)


@pytest.fixture
def keyed(settings: Settings):  # type: ignore[no-untyped-def]
    with make_client(settings, api_keys=KEYS) as client:
        yield client


def test_every_v1_operation_is_listed_with_its_scope(keyed: TestClient) -> None:
    assert set(_v1_operations(keyed)) == set(EXPECTED_SCOPES)


def test_every_v1_operation_answers_401_without_a_valid_key(keyed: TestClient) -> None:
    for method, template in _v1_operations(keyed):
        for headers in ({}, _key("not-a-key"), _key(READER + "x")):
            response = keyed.request(method, _url(template), headers=headers)
            assert response.status_code == 401, (method, template, headers, response.text)
            assert response.headers["www-authenticate"] == "ApiKey"
            assert "X-API-Key" in response.json()["detail"]
            assert "not-a-key" not in response.text and READER not in response.text
    assert keyed.get("/metrics").status_code == 401


def test_a_malformed_body_without_a_key_is_401_not_422(keyed: TestClient) -> None:
    # FastAPI parses JSON before running dependencies; the caller must still learn nothing.
    for method, template in _v1_operations(keyed):
        if method == "POST":
            response = keyed.post(template, content=b'{"events": [',
                                  headers={"content-type": "application/json"})
            assert response.status_code == 401, (template, response.text)
    with_key = keyed.post("/v1/events", content=b'{"events": [',
                          headers={"content-type": "application/json", **_key(WRITER)})
    assert with_key.status_code == 422


def test_each_key_reaches_exactly_the_operations_of_its_scopes(keyed: TestClient) -> None:
    scopes_of = {READER: {"read"}, WRITER: {"write"}, FULL: {"read", "write"},
                 ADMIN: {"read", "write"}}
    for secret, allowed in scopes_of.items():
        for (method, template), needed in EXPECTED_SCOPES.items():
            response = keyed.request(method, _url(template), headers=_key(secret))
            if needed in allowed:
                # Past the guard: the route itself answers (a missing body or session, no model).
                assert response.status_code not in (401, 403), (secret, method, template)
            else:
                assert response.status_code == 403, (secret, method, template, response.text)
                detail = response.json()["detail"]
                assert f"'{needed}'" in detail and secret not in detail


def test_a_read_key_cannot_write_and_nothing_is_stored(keyed: TestClient, settings: Settings) -> None:
    records = taobao_records(settings, 20)
    refused = keyed.post("/v1/events", json={"events": records}, headers=_key(READER))
    assert refused.status_code == 403
    service = keyed.app.state.service  # type: ignore[attr-defined]
    assert service.gateway.call(lambda store: store.count()).result() == 0
    stored = keyed.post("/v1/events", json={"events": records}, headers=_key(WRITER)).json()
    assert stored["stored"] == 20
    assert keyed.get("/v1/sessions", headers=_key(READER)).json()["live"] > 0
    assert keyed.get("/v1/sessions", headers=_key(WRITER)).status_code == 403


def test_a_key_listed_without_scopes_keeps_full_access(settings: Settings) -> None:
    records = taobao_records(settings, 30)
    with make_client(settings, api_keys=("legacy-key",)) as client:
        auth = _key("legacy-key")
        body = client.post("/v1/events", json={"events": records}, headers=auth).json()
        assert body["stored"] == 30
        session = body["results"][0]["session_id"]
        assert client.get(f"/v1/sessions/{session}", headers=auth).status_code == 200
        assert client.get("/v1/dashboard", headers=auth).json()["events"]["stored"] == 30
        assert "shopintent_events_total" in client.get("/metrics", headers=auth).text
        # No model is loaded here: the routes answer 503 after the guard, not 401/403.
        assert client.post("/v1/decisions", json={"session_id": session}, headers=auth).status_code == 503
        assert client.post("/v1/intent", json={"text": "hi"}, headers=auth).status_code == 503


def test_health_and_readiness_stay_open_and_reveal_no_reasons(keyed: TestClient) -> None:
    assert keyed.get("/healthz").json() == {"status": "ok"}
    ready = keyed.get("/readyz").json()
    assert ready["status"] == "ready"
    assert all(set(card) == {"needed", "ready", "state", "version"}
               for card in ready["models"].values())
    assert keyed.get("/openapi.json").status_code == 200


def test_metrics_and_dashboard_data_need_a_key_unless_public(settings: Settings) -> None:
    with make_client(settings, api_keys=KEYS) as closed:
        assert closed.get("/metrics").status_code == 401
        assert closed.get("/v1/dashboard").status_code == 401
        assert closed.get("/metrics", headers=_key(READER)).status_code == 200
        assert closed.get("/metrics", headers=_key(WRITER)).status_code == 403
        page = closed.get("/")  # the page shell: the package's own HTML, no data in it
        assert page.status_code == 200 and 'data-public-dashboard="false"' in page.text
    with make_client(settings, api_keys=KEYS, public_dashboard=True) as public:
        assert public.get("/metrics").status_code == 200
        assert public.get("/v1/dashboard").status_code == 200
        assert 'data-public-dashboard="true"' in public.get("/").text
        # Read-only: everything else still needs its key, and a wrong key is still refused.
        assert public.get("/v1/sessions").status_code == 401
        assert public.post("/v1/events", json={"events": []}).status_code == 401
        assert public.get("/metrics", headers=_key("wrong")).status_code == 401


def test_openapi_declares_the_key_scheme_on_every_v1_operation(keyed: TestClient) -> None:
    spec = keyed.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    v1 = {(m.upper(), p): op for p, ops in spec["paths"].items() if p.startswith("/v1")
          for m, op in ops.items()}
    assert set(v1) == set(EXPECTED_SCOPES)
    for operation in v1.values():
        assert operation["security"] == [{"ApiKey": []}]
        assert {"401", "403", "429"} <= set(operation["responses"])
    assert spec["paths"]["/metrics"]["get"]["security"] == [{"ApiKey": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_over_the_limit_a_key_gets_429_with_retry_after(settings: Settings) -> None:
    event = taobao_records(settings, 1)
    with make_client(settings, api_keys=KEYS, write_rate_limit="3/minute",
                     read_rate_limit="2/minute") as client:
        answers = [client.post("/v1/events", json={"events": event}, headers=_key(WRITER))
                   for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        assert "retry after" in answers[-1].json()["detail"] and WRITER not in answers[-1].text
        # Per key and per scope: another key, and the same key's other scope, are not held back.
        assert client.post("/v1/events", json={"events": event}, headers=_key(FULL)).status_code == 200
        assert client.get("/v1/sessions", headers=_key(FULL)).status_code == 200
        reads = [client.get("/v1/sessions", headers=_key(READER)).status_code for _ in range(3)]
        assert reads == [200, 200, 429]
        metrics = client.get("/metrics", headers=_key(FULL)).text
        assert 'shopintent_rate_limited_total{bucket="write"} 1.0' in metrics
        assert 'shopintent_rate_limited_total{bucket="read"} 1.0' in metrics
        # Metrics and logs name keys by fingerprint only.
        assert all(k not in metrics for k in (READER, WRITER, FULL))


def test_requests_without_a_valid_key_are_limited_per_client_address(settings: Settings) -> None:
    with make_client(settings, api_keys=KEYS, anonymous_rate_limit="2/minute") as client:
        guesses = [client.get("/v1/sessions", headers=_key("guess-1")).status_code,
                   client.post("/v1/events", content=b"{", headers={**_key("guess-2"),
                                                                     "content-type": "application/json"}
                               ).status_code,
                   client.get("/v1/sessions", headers=_key("guess-3")).status_code]
        assert guesses == [401, 401, 429]
        assert int(client.get("/v1/sessions").headers["retry-after"]) >= 1
        # A valid key is counted under its own identity, not the address's.
        assert client.get("/v1/sessions", headers=_key(READER)).status_code == 200


def test_workers_sharing_redis_share_one_limit(settings: Settings, redis_url: str) -> None:
    secret = f"shared-{uuid.uuid4().hex}"
    options = {"api_keys": (secret,), "stream": "redis", "redis_url": redis_url,
               "write_rate_limit": "3/minute"}
    event = taobao_records(settings, 1)
    with make_client(settings, stream_name=f"auth-a-{uuid.uuid4().hex}", **options) as a, \
            make_client(settings, stream_name=f"auth-b-{uuid.uuid4().hex}", **options) as b:
        codes = [c.post("/v1/events", json={"events": event}, headers=_key(secret)).status_code
                 for c in (a, b, a, b)]
        assert codes == [200, 200, 200, 429]


def test_raw_client_session_ids_are_not_an_address(keyed: TestClient) -> None:
    view = {"event_id": "raw-1", "user_id": "77", "session_id": "web-session-9",
            "timestamp": "2024-05-01T09:00:00Z", "event_type": "view", "item_id": "sku-1"}
    body = keyed.post("/v1/events", json=view, headers=_key(FULL)).json()
    issued = body["results"][0]["session_id"]
    assert issued != "web-session-9"
    assert keyed.get(f"/v1/sessions/{issued}", headers=_key(FULL)).status_code == 200
    for response in (
        keyed.get("/v1/sessions/web-session-9", headers=_key(FULL)),
        keyed.get("/v1/recommendations", params={"session": "web-session-9"}, headers=_key(FULL)),
        keyed.post("/v1/decisions", json={"session_id": "web-session-9"}, headers=_key(FULL)),
    ):
        assert response.status_code == 404
        detail = response.json()["detail"]
        assert "`session_id` that POST /v1/events returned" in detail and "web-session-9" not in detail


def test_metric_labels_stay_bounded_under_a_flood(keyed: TestClient) -> None:
    rng = random.Random(0)
    word = lambda n: "".join(rng.choices(string.ascii_lowercase + string.digits, k=n))  # noqa: E731
    for _ in range(150):
        keyed.get(f"/{word(8)}/{word(12)}")
        keyed.request(rng.choice(["GET", "POST", "PURGE", word(5).upper()]), f"/v1/{word(6)}")
        keyed.get(f"/v1/sessions/{word(20)}", headers=_key(FULL))
    metrics = keyed.app.state.service.metrics  # type: ignore[attr-defined]
    for _ in range(500):  # values a model or a client could produce, none in the closed sets
        metrics.intents.labels("x" + word(2)).inc()
        metrics.outcomes.labels("x" + word(7)).inc()
        metrics.decisions.labels("x" + word(9)).inc()
    metrics.intents.labels("zh").inc()
    metrics.outcomes.labels("purchase").inc()
    series: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            series.setdefault(family.name, set()).add(labels)
    routes = {dict(s).get("route") for s in series["shopintent_http_request_duration_seconds"]}
    app_paths = {path for path, _ in _routes(keyed)}
    assert UNMATCHED in routes and routes <= app_paths | {UNMATCHED}
    methods = {dict(s).get("method") for s in series["shopintent_http_request_duration_seconds"]}
    assert methods <= {"GET", "POST", OTHER}
    statuses = {dict(s).get("status") for s in series["shopintent_http_request_duration_seconds"]}
    assert statuses <= {"2xx", "4xx", "5xx"}
    languages = {dict(s)["language"] for s in series["shopintent_intent_requests"]}
    assert languages == {"zh", OTHER} and languages <= LANGUAGES | {OTHER}
    kinds = {dict(s)["kind"] for s in series["shopintent_outcomes"]}
    assert kinds == {"purchase", OTHER} and kinds <= OUTCOME_KINDS | {OTHER}
    assert {dict(s)["action"] for s in series["shopintent_decisions"]} == {OTHER}
    assert sum(len(s) for s in series.values()) < 200


def test_key_entries_parse_with_scopes_and_errors_never_show_a_key() -> None:
    keys = parse_api_keys([" a-key ", "b-key:read", "c-key:read+write", "d-key:admin", ""])
    assert [sorted(k.scopes) for k in keys] == [["admin", "read", "write"], ["read"],
                                                 ["read", "write"], ["admin"]]
    assert keys[3].allows("write") and not keys[1].allows("write")
    ring = KeyRing(keys)
    assert ring.find("b-key") is keys[1] and ring.find("b-key:read") is None and ring.find("") is None
    assert "b-key" not in repr(ring) and "b-key" not in repr(keys[1])
    assert keys[1].key_id.startswith("k_") and "b-key" not in keys[1].key_id
    for entries, message in (
        (["ok", "secret-value:reed"], "entry 2 has text after its last ':' that is not a scope list"),
        ([":read"], "entry 1 has no key before ':'"),
        (["secret-value", "secret-value:read"], "entry 2 repeats the key of entry 1"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)) as caught:
            parse_api_keys(entries)
        assert "secret-value" not in str(caught.value)


def test_bad_rate_limits_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="write_rate_limit 'lots' is not a rate limit"):
        ServeConfig(write_rate_limit="lots")
    assert ServeConfig(read_rate_limit="").rate_limits()["read"] == ()
