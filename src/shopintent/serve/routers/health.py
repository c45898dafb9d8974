"""``/healthz`` (process up), ``/readyz`` (store and stream working), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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
    models = {name: slot.status() for name, slot in service.models.items()}
    body = {"status": "ready" if ok else "not ready", **ready, "models": models}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics")
def metrics(service: Service = Depends(get_service)) -> Response:
    """Prometheus text format: request latency, events, decisions, model versions."""
    service.metrics.live_sessions.set(service.state.count_live())
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
