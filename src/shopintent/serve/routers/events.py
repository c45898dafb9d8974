"""``POST /v1/events``: store events before answering, with a status per event."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shopintent.serve.auth import require_api_key
from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.events import (
    DecisionOut,
    EventBatch,
    EventIn,
    IngestResponse,
    StreamAccepted,
)
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["events"])


@router.post(
    "/events",
    response_model=IngestResponse | StreamAccepted,
    dependencies=[Depends(require_api_key)],
    responses={202: {"model": StreamAccepted}, 401: {}, 413: {}, 422: {}, 503: {}},
)
async def post_events(
    payload: EventBatch | EventIn,
    mode: Literal["sync", "stream"] = Query(
        "sync", description="sync: stored before the response (default); stream: validated and "
        "protected, then put on the event stream and answered at once (202, a status per "
        "event), stored by the consumer."),
    service: Service = Depends(get_service),
) -> IngestResponse | StreamAccepted:
    """Validate, pseudonymise and store one event or a batch; idempotent on ``event_id``."""
    events = payload.events if isinstance(payload, EventBatch) else [payload]
    limit = service.config.max_batch_events
    if len(events) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"{len(events):,} events in one request; the limit is {limit:,}")
    records = [e.model_dump(exclude_none=True) for e in events]
    if mode == "stream":
        # Validation and protection run off the event loop, before anything is published.
        published = await run_in_threadpool(service.publish, records)
        body = {
            "received": len(records),
            "accepted": published.count("accepted"),
            "rejected": published.count("rejected"),
            "message_id": published.message_id,
            "stream": service.source.backend,
            "results": [{"index": r.index, "event_id": r.event_id, "status": r.status,
                         "reasons": list(r.reasons)} for r in published.results],
        }
        return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED)  # type: ignore[return-value]
    outcome = await service.ingest(records)
    # Built as plain JSON: validating thousands of result objects twice costs more than storing them.
    body = {
        "received": len(outcome.results),
        "stored": outcome.count("stored"),
        "duplicates": outcome.count("duplicate"),
        "rejected": outcome.count("rejected"),
        "results": [{"index": r.index, "event_id": r.event_id, "status": r.status,
                     "reasons": list(r.reasons), "session_id": r.session_id} for r in outcome.results],
        "decisions": [{k: d[k] for k in DecisionOut.model_fields} for d in outcome.decisions],
    }
    return JSONResponse(body)  # type: ignore[return-value]
