"""``create_app(settings)``: the FastAPI application of the service.

The app owns one :class:`~shopintent.serve.service.Service` (started and
stopped by the lifespan). Input errors of any kind — bad JSON, wrong types,
unknown fields, too large bodies, unknown sessions — are answered 4xx with a
reason; a model that is not available is 503 with its reason. A 500 means a
bug in the service, never a bad request.

Access is declared where each router is included: every ``/v1`` route needs a
key with the scope its router needs (:func:`~shopintent.serve.auth.require_scope`,
which also applies the per-key rate limits), so a router file cannot forget it.

The API docs (``/docs``, Swagger UI; ``/redoc``, ReDoc) are built from files
vendored under ``static/vendor/`` (see its ``VENDORED.md``) rather than FastAPI's
CDN defaults, so they work on a shop's machine without internet access. Like
``/openapi.json`` they need no key: they describe the API and hold no data.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from shopintent import __version__
from shopintent.log import get_logger
from shopintent.serve.adapters.base import ModelUnavailable
from shopintent.serve.auth import Access, refusal_before_guard, require_scope
from shopintent.serve.body_limit import BodySizeLimit
from shopintent.serve.config import ServeConfig, resolve_api_keys
from shopintent.serve.gateway import IngestUnavailable
from shopintent.serve.metrics import LatencyMiddleware
from shopintent.serve.rate_limit import RateLimiter
from shopintent.serve.routers import (
    assist,
    dashboard,
    decisions,
    events,
    forecast,
    health,
    intent,
    products,
    profiles,
    recommendations,
    risk,
    sessions,
)
from shopintent.serve.routers.events_fast import EventsPath
from shopintent.serve.routers.intent_fast import IntentPath
from shopintent.serve.routers.lean import LeanPaths
from shopintent.serve.service import DecisionNotFound, Service, SessionNotFound
from shopintent.settings import Settings, get_settings

log = get_logger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The longest an HTTP worker (``--workers N``) waits for its models before it accepts connections.
WORKER_LOAD_WAIT_S = 120.0
#: Where the vendored Swagger UI and ReDoc files are served (under the ``/static`` mount).
VENDOR_URL = "/static/vendor"
#: The scope each resource router needs. The dashboard data and /metrics declare theirs on
#: the route (read, or open with ``public_dashboard``); /healthz, /readyz and the page are open.
#: In matching order: FastAPI tries each included router's routes in turn for every request, so
#: the hottest routes come first (POST /v1/intent; POST /v1/events mostly takes the lean path).
ROUTER_SCOPES = (
    (intent.router, "read"),
    (events.router, "write"),
    (decisions.router, "write"),
    (sessions.router, "read"),
    (recommendations.router, "read"),
    (profiles.router, "read"),
    (forecast.router, "read"),
    (risk.router, "write"),
    (assist.router, "write"),
    (products.router, "write"),
    (products.search_router, "read"),
)


def _loc(error: dict[str, Any]) -> str:
    # Drop the union branch names pydantic adds ("EventBatch", "EventIn") and "body".
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "EventBatch", "EventIn")
             and not str(p).startswith(("function-", "constrained-"))]
    return ".".join(parts) or "body"


def _validation_problem(exc: RequestValidationError) -> dict[str, Any]:
    errors = list(exc.errors())
    body = getattr(exc, "body", None)
    # For a body that is clearly a batch (or clearly one event) report only that branch.
    if isinstance(body, dict):
        branch = "EventBatch" if "events" in body else "EventIn"
        narrowed = [e for e in errors if branch in e.get("loc", ())]
        errors = narrowed or errors
    problems = []
    for e in errors[:50]:
        msg = str(e.get("msg", "invalid"))
        problems.append({"field": _loc(e), "problem": msg, "type": e.get("type")})
    summary = "; ".join(f"`{p['field']}` {p['problem']}" for p in problems[:5])
    return {"detail": f"invalid request: {summary}", "errors": problems}


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = await refusal_before_guard(request)
        if refused is not None:
            return refused
        return JSONResponse(_validation_problem(exc), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(ModelUnavailable)
    async def _no_model(_: Request, exc: ModelUnavailable) -> JSONResponse:
        return JSONResponse({"detail": f"model {exc.model!r} is not available: {exc.reason}",
                             "model": exc.model}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": "30"})

    @app.exception_handler(SessionNotFound)
    @app.exception_handler(DecisionNotFound)
    async def _not_found(_: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"detail": str(exc.args[0] if exc.args else exc)},
                            status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(IngestUnavailable)
    async def _store_down(_: Request, exc: IngestUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": "1"})

    @app.exception_handler(ValueError)
    async def _bad_value(_: Request, exc: ValueError) -> JSONResponse:
        # Raised by the ingest path for input it cannot store (named in the message).
        return JSONResponse({"detail": f"invalid input: {exc}"[:1000]},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    """Add a Content-Security-Policy that lets the docs page load nothing from elsewhere.

    ReDoc's sidebar links an image on cdn.redoc.ly; under this policy the browser never
    requests it (the image hides itself), so opening the docs contacts no other host.
    The page's one inline script is allowed by its hash, not by ``'unsafe-inline'``.
    """
    html = bytes(page.body).decode()
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL))
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
    return page


def _install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` from the vendored files: no CDN, no web fonts."""

    def prefix(request: Request) -> str:
        # Behind a proxy that mounts the service under a path, links must carry that path.
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = prefix(request)
        return _same_origin_only(get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} {app.version} API docs",
            swagger_js_url=f"{root}{VENDOR_URL}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{VENDOR_URL}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{root}{VENDOR_URL}/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url=None,
            # No schema check against the public validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        ))

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        return _same_origin_only(get_redoc_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} {app.version} API reference",
            redoc_js_url=f"{root}{VENDOR_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{VENDOR_URL}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        ))


def create_app(settings: Settings | None = None, config: ServeConfig | None = None,
               load_models: bool = True) -> FastAPI:
    """Build the service app; the store opens and consumers start when the app starts."""
    settings = settings or get_settings()
    config = config or ServeConfig()
    keys, generated = resolve_api_keys(settings, config)
    limiter = RateLimiter(config.rate_limits(), config.rate_limit_storage())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(settings, config)
        app.state.service = service
        service.start(load_models=load_models)
        if not config.sink:
            # An HTTP worker beside others (``--workers N``) shares their listening socket, and
            # uvicorn accepts on it only once this startup returns: waiting for the first load pass
            # keeps a restarted worker from taking connections it can only answer 503 ("loading")
            # while the other workers could answer them. One process (the sink in it) starts
            # answering at once instead, as before.
            await asyncio.to_thread(service.first_load_pass.wait, WORKER_LOAD_WAIT_S)
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="shopintent",
        version=__version__,
        description="Shopper intent in real time: events in; intent, session scores, "
        "recommendations and interventions out. Every /v1 operation needs an API key in the "
        "X-API-Key header with the scope it names (read, write; admin includes both); "
        "over a key's rate limit the answer is 429 with Retry-After.",
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI / ReDoc from a CDN; ours use vendored files.
        docs_url=None,
        redoc_url=None,
    )
    app.state.access = Access(keys, limiter, public_dashboard=config.public_dashboard)
    app.state.api_key_generated = generated
    for router, scope in ROUTER_SCOPES:
        app.include_router(router, dependencies=[Depends(require_scope(scope))],
                           responses={401: {}, 403: {}, 429: {}})
    app.include_router(health.router)
    app.include_router(dashboard.router)
    app.include_router(assist.live_router)  # read scope declared on the route (public_dashboard)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _install_docs(app)
    _install_handlers(app)
    # Outermost first: the size limit refuses big bodies before anything reads them. Innermost,
    # ordinary POST /v1/events and /v1/intent requests skip FastAPI's per-request machinery
    # (routers/lean, routers/events_fast, routers/intent_fast).
    app.add_middleware(LeanPaths, paths=(EventsPath(), IntentPath()))
    app.add_middleware(_LatencyFromState)
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)
    return app


class _LatencyFromState:
    """:class:`LatencyMiddleware` bound at request time to the running service's metrics."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._bound: LatencyMiddleware | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        service = getattr(scope.get("app").state, "service", None) if scope.get("app") else None
        if scope["type"] != "http" or service is None:
            await self.app(scope, receive, send)
            return
        if self._bound is None or self._bound.metrics is not service.metrics:
            self._bound = LatencyMiddleware(self.app, service.metrics)
        await self._bound(scope, receive, send)
