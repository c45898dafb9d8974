"""A lean ASGI path for ``POST /v1/events``: the route's answer without FastAPI's per-request machinery.

Profiles of one event per request (``benchmarks/serve_profile.py --events``) put
about half of the event loop's CPU in FastAPI's request handling for this one
route: dependency solving (the key guard, two query parameters, the service),
building the request's pydantic field state and routing. At 1,000 events a second
that work alone fills most of a core, so the common request takes a shorter way:

* the body is read once, parsed with :func:`json.loads` (as FastAPI does) and
  validated with the same pydantic type (:data:`~shopintent.serve.schemas.events.EventsBody`);
  an ordinary batch (every event well-typed, ids as text) is validated into the route's
  records directly (:func:`~shopintent.serve.schemas.events.plain_batch`: the same records,
  without a pydantic model and Python validator calls per event);
* the key is checked and counted by the same code the guard uses
  (:class:`~shopintent.serve.auth.KeyRing`, :func:`~shopintent.serve.auth.count_request`);
* the answer is built by :func:`~shopintent.serve.routers.events.answer`, the route's own.

Anything out of the ordinary — no key, a wrong key, a key without the ``write``
scope, a body that is not ``application/json``, not JSON or not the documented
shape, a query parameter outside its values — is handed to the FastAPI route
unchanged (the body replayed), which answers it exactly as before: the same
401/403/422, the same error shape, counted once. So the OpenAPI description of
the route stays the truth for both paths, and an error answer never differs
between them (``tests/serve/test_events_api.py`` compares both on odd requests).

Only the cheap checks run before the hand-over (nothing counted, nothing
stored): the limiter counts a request only once the fast path keeps it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopintent.serve.auth import HEADER, count_request
from shopintent.serve.routers import events
from shopintent.serve.schemas.events import EventsBody, plain_batch

PATH = "/v1/events"
SCOPE = "write"
#: The route's query parameters and the values each accepts (its first value is the default).
_QUERY = {"mode": ("sync", "stream"), "wait": ("log", "store")}
_BODY = TypeAdapter(EventsBody)


def _route() -> Any:
    """The route object the app's router would have matched (its ``path`` labels metrics)."""
    for route in events.router.routes:
        if getattr(route, "path", None) == PATH:
            return route
    raise LookupError(f"{PATH} is not a route of the events router")


def _json_content(headers: Headers) -> bool:
    value = headers.get("content-type")
    return value is not None and value.split(";", 1)[0].strip().lower() == "application/json"


class EventsFastPath:
    """ASGI middleware (innermost): answer ordinary ``POST /v1/events`` requests itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route = _route()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more, replay = await _read_body(receive)
        if more:  # the client went away (or the size limit refused it): let the route see that
            await self.app(scope, replay, send)
            return
        kept = await self._answer(scope, body)
        if kept is None:
            await self.app(scope, replay, send)
            return
        await kept(scope, replay, send)

    async def _answer(self, scope: Scope, body: bytes) -> Any:
        """The response for an ordinary request, or None to hand the request to the route."""
        app = scope["app"]
        access = app.state.access
        service = getattr(app.state, "service", None)
        headers = Headers(scope=scope)
        key = access.keys.find(headers.get(HEADER))
        if service is None or key is None or not key.allows(SCOPE) or not body \
                or not _json_content(headers):
            return None
        query = QueryParams(scope.get("query_string", b""))
        chosen = {name: query.get(name, allowed[0]) for name, allowed in _QUERY.items()}
        if any(chosen[name] not in allowed for name, allowed in _QUERY.items()):
            return None
        try:
            data = json.loads(body)
            records = plain_batch(data, body)  # an ordinary batch: records without models
            payload = None if records is not None else _BODY.validate_python(data)
        except Exception:  # not JSON, not the shape: the route's 422/400
            return None
        scope["route"] = self._route  # what the router would set: the latency label
        request = Request(scope)
        try:
            await count_request(request, SCOPE, key.key_id)
            if records is not None:
                return await events.answer_records(service, records, chosen["mode"], chosen["wait"])
            return await events.answer(service, payload, chosen["mode"], chosen["wait"])
        except Exception as exc:
            handler = _handler_for(app, exc)
            if handler is None:
                raise
            return await handler(request, exc)


def _handler_for(app: Any, exc: Exception) -> Any:
    """The app's exception handler for ``exc`` (by class, most specific first), as Starlette's
    exception middleware picks it (FastAPI registers one for ``HTTPException``)."""
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


async def _read_body(receive: Receive) -> tuple[bytes, bool, Receive]:
    """Read the whole body; return it, whether something other than the body came (a
    disconnect), and a ``receive`` that replays what was read, then continues."""
    chunks: list[bytes] = []
    seen: list[Message] = []
    more = False
    while True:
        message = await receive()
        seen.append(message)
        if message["type"] != "http.request":
            more = True
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        if seen:
            return seen.pop(0)
        return await receive()

    return b"".join(chunks), more, replay
