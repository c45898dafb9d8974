"""``/healthz`` (process up), ``/readyz`` (store and stream working), ``/metrics`` (Prometheus).

``/healthz`` and ``/readyz`` stay open for load balancers and orchestrators and
say nothing a caller could use: up or not, and which models are loaded with
their version (no paths, no reasons). ``/metrics`` needs a key with the read
scope, unless the service runs with ``public_dashboard``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shopintent.serve.auth import require_scope
from shopintent.serve.routers.deps import get_service
from shopintent.serve.service import Service

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {}})
def readyz(service: Service = Depends(get_service)) -> Any:
    """Ready when the store is open and the consumer runs; models are listed (not required)."""
    ready = service.ready()
    ok = bool(ready["store"] and ready["stream"])
    models = {}
    for name, slot in service.models.items():
        card = slot.status()
        models[name] = {"ready": bool(card.get("ready")), "version": card.get("version")}
    body = {"status": "ready" if ok else "not ready", "store": bool(ready["store"]),
            "stream": bool(ready["stream"]), "models": models}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", dependencies=[Depends(require_scope("read", public_dashboard=True))],
            responses={401: {}, 403: {}, 429: {}})
def metrics(service: Service = Depends(get_service)) -> Response:
    """Prometheus text format: request latency, events, decisions, model versions."""
    service.metrics.live_sessions.set(service.state.count_live())
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
