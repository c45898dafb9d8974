"""``/healthz`` (process up), ``/readyz`` (ready for traffic), ``/metrics`` (Prometheus).

``/healthz`` and ``/readyz`` stay open for load balancers and orchestrators and
say nothing a caller could use: up or not, and where each model's loading
stands with its version (no paths, no reasons). ``/healthz`` is 200 whenever
the process answers; ``/readyz`` is 503 until the store, the consumer and every
model the service needs are up. ``/metrics`` needs a key with the read scope,
unless the service runs with ``public_dashboard``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shopintent.serve.auth import require_scope
from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.health import ModelReadiness, Readiness
from shopintent.serve.service import Service

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers (200 while models are still loading, too)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness,
                             "description": "Not ready yet: see `waiting_for`."}})
def readyz(service: Service = Depends(get_service)) -> JSONResponse:
    """200 when the store, the stream consumer and every needed model are up; 503 until then.

    Every model is needed unless the service was started with ``--no-models``.
    """
    report = service.ready()
    body = Readiness(
        status="ready" if report["ready"] else "not ready", store=report["store"],
        stream=report["stream"], sink=report["sink"], log_pending=report["log_pending"],
        history=report["history"],
        models={name: ModelReadiness(**card) for name, card in report["models"].items()},
        waiting_for=report["waiting_for"])
    return JSONResponse(body.model_dump(), status_code=status.HTTP_200_OK if report["ready"]
                        else status.HTTP_503_SERVICE_UNAVAILABLE)


@router.get("/metrics", dependencies=[Depends(require_scope("read", public_dashboard=True))],
            responses={401: {}, 403: {}, 429: {}})
def metrics(service: Service = Depends(get_service)) -> Response:
    """Prometheus text format: request latency, events, decisions, model versions."""
    service.metrics.live_sessions.set(service.state.count_live())
    service.log_pending()  # sets the event log's pending gauge
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
