"""Lean ASGI paths for the hottest routes: a route's answer without FastAPI's per-request machinery.

Profiles of one request at a time (``benchmarks/serve_profile.py``) put most of the
event loop's CPU for ``POST /v1/events`` and ``POST /v1/intent`` in FastAPI's request
handling rather than in the route: routing (FastAPI 0.165 tries the routes of each
included router in turn), dependency solving (the key guard, query parameters, the
service) and building the request's pydantic field state. At 1,000 requests a
second that work alone fills a large part of the core the event loop has, so the
ordinary request takes a shorter way:

* the body is read once; a :class:`LeanPath` (one per route: ``events_fast``,
  ``intent_fast``) checks it with the route's own types and returns the route's
  answer as a coroutine, or None;
* the key is checked and counted by the same code the guard uses
  (:class:`~shopintent.serve.auth.KeyRing`, :func:`~shopintent.serve.auth.count_request`);
* errors the answer raises go to the app's own exception handlers.

Anything out of the ordinary — no key, a wrong key, a key without the route's scope,
a body that is not ``application/json``, not JSON or not the documented shape, a
query parameter outside its values — is handed to the FastAPI route unchanged (the
body replayed), which answers it exactly as before: the same 401/403/422, the same
error shape, counted once. So the OpenAPI description of each route stays the truth
for both paths, and an answer never differs between them
(``tests/serve/test_events_fast_path.py``, ``tests/serve/test_intent_fast_path.py``
compare both on ordinary and odd requests).

Only the cheap checks run before the hand-over (nothing counted, nothing stored):
the limiter counts a request only once the lean path keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from fastapi import APIRouter
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopintent.serve.auth import HEADER, count_request

#: What a lean path makes of an ordinary request: the coroutine that answers it.
Answer = Callable[[], Awaitable[Any]]


class LeanPath(Protocol):
    """One route's lean check: its method, path, scope, router, and what it keeps."""

    method: str
    path: str
    scope: str
    router: APIRouter

    def keep(self, service: Any, query: QueryParams, body: bytes) -> Answer | None:
        """The route's answer for an ordinary request, or None to hand it to the route.

        Must not count, store or raise: only the route's own type checks of ``body``
        and ``query`` run here.
        """
        ...


def route_of(router: APIRouter, path: str, method: str) -> Any:
    """The route object the app's router would have matched (its ``path`` labels metrics)."""
    for route in router.routes:
        if getattr(route, "path", None) == path and method in getattr(route, "methods", ()):
            return route
    raise LookupError(f"{method} {path} is not a route of its router")


def json_content(headers: Headers) -> bool:
    value = headers.get("content-type")
    return value is not None and value.split(";", 1)[0].strip().lower() == "application/json"


class LeanPaths:
    """ASGI middleware (innermost): answer ordinary requests of its lean paths itself."""

    def __init__(self, app: ASGIApp, paths: Sequence[LeanPath]) -> None:
        self.app = app
        self.paths = {(p.method, p.path): p for p in paths}
        self._routes = {(p.method, p.path): route_of(p.router, p.path, p.method) for p in paths}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lean = self.paths.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if lean is None:
            await self.app(scope, receive, send)
            return
        body, more, replay = await _read_body(receive)
        if more:  # the client went away (or the size limit refused it): let the route see that
            await self.app(scope, replay, send)
            return
        kept = await self._answer(lean, scope, body)
        if kept is None:
            await self.app(scope, replay, send)
            return
        await kept(scope, replay, send)

    async def _answer(self, lean: LeanPath, scope: Scope, body: bytes) -> Any:
        """The response for an ordinary request, or None to hand the request to the route."""
        app = scope["app"]
        access = app.state.access
        service = getattr(app.state, "service", None)
        headers = Headers(scope=scope)
        key = access.keys.find(headers.get(HEADER))
        if service is None or key is None or not key.allows(lean.scope) or not body \
                or not json_content(headers):
            return None
        answer = lean.keep(service, QueryParams(scope.get("query_string", b"")), body)
        if answer is None:
            return None
        scope["route"] = self._routes[(lean.method, lean.path)]  # what the router sets: the latency label
        request = Request(scope)
        try:
            await count_request(request, lean.scope, key.key_id)
            return await answer()
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
