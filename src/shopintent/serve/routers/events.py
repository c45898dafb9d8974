"""``POST /v1/events``: commit events to the durable event log before answering, a status per event.

``stored`` means committed to the log; the store sink writes DuckDB behind the
answer. ``?wait=store`` also waits for that (read-your-writes, for tools and tests).

Events whose JSON types are wrong were set aside at the edge
(:class:`~shopintent.serve.schemas.events.InvalidEvent`); the others go through
the one ingest path. The answer joins both back in request order, so every
event gets one result with its ``index``, whichever check refused it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shopintent.privacy import EVENT_ID_LENGTH
from shopintent.privacy.event_ids import CLIENT_ID_NAMESPACE
from shopintent.serve.auth import require_api_key
from shopintent.serve.gateway import DUPLICATE, REJECTED, STORED, EventResult
from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.events import (
    DecisionOut,
    EventBatch,
    EventIn,
    EventsBody,
    IngestResponse,
    InvalidEvent,
    StreamAccepted,
)
from shopintent.serve.service import Service, SinkNotHere

router = APIRouter(prefix="/v1", tags=["events"])


def _join(service: Service, entries: list[EventIn | InvalidEvent] | None, checked: list[EventResult],
          source: str) -> list[EventResult]:
    """Per-event results in request order: the ingest path's for the well-typed events
    (re-indexed), a rejection for each event set aside at the edge (``entries`` None: every
    event was well-typed).

    A set-aside event that carried a usable ``event_id`` is answered with that id's keyed
    form, as ingest answers a rejected event; it is counted like any rejected event.
    """
    if entries is None or len(checked) == len(entries):
        return checked  # nothing was set aside: the ingest path's indices are the request's
    results, valid = [], iter(checked)
    for index, entry in enumerate(entries):
        if isinstance(entry, InvalidEvent):
            given = entry.client_event_id
            keyed = None if given is None else service.pseudonymizer.pseudonymize(
                given, CLIENT_ID_NAMESPACE, length=EVENT_ID_LENGTH)
            results.append(EventResult(index, keyed, REJECTED, entry.reasons))
        else:
            r = next(valid)
            results.append(EventResult(index, r.event_id, r.status, r.reasons, r.session_id))
    n_invalid = len(entries) - len(checked)
    if n_invalid:
        service.metrics.events.labels("rejected", source).inc(n_invalid)
        service.stats.record_ingest(0, 0, n_invalid)
    return results


@router.post(
    "/events",
    response_model=IngestResponse | StreamAccepted,
    dependencies=[Depends(require_api_key)],
    responses={202: {"model": StreamAccepted}, 401: {}, 413: {}, 422: {}, 503: {}},
)
async def post_events(
    payload: EventsBody,
    mode: Literal["sync", "stream"] = Query(
        "sync", description="sync: committed to the event log, with live effects and decisions, "
        "before the response (default); stream: validated and "
        "protected, then put on the event stream and answered at once (202, a status per "
        "event), stored by the consumer."),
    wait: Literal["log", "store"] = Query(
        "log", description="log: answer once the events are committed to the durable event log "
        "(default); store: also wait until the store sink has written them to the event store "
        "(read-your-writes)."),
    service: Service = Depends(get_service),
) -> IngestResponse | StreamAccepted:
    """Validate, pseudonymise and commit one event or a batch to the event log; idempotent on
    ``event_id``.

    Each event is answered on its own: one with a wrong JSON type, an unknown field or
    a value the validator refuses is ``rejected`` with its reasons, the others are kept.
    """
    return await answer(service, payload, mode, wait)  # type: ignore[return-value]


async def answer(service: Service, payload: EventBatch | EventIn | InvalidEvent,
                 mode: str, wait: str) -> JSONResponse:
    """The answer to a validated ``POST /v1/events`` body: the route's work, shared with the
    lean ASGI path (:mod:`shopintent.serve.routers.lean`) so both answer alike.

    Raises ``HTTPException`` (413, 400, 503) as the route does; the caller turns it into the
    app's error answer.
    """
    entries = payload.events if isinstance(payload, EventBatch) else [payload]
    _check_size(service, len(entries))
    records = [e.model_dump(exclude_none=True) for e in entries if isinstance(e, EventIn)]
    return await _answer(service, entries, records, mode, wait)


async def answer_records(service: Service, records: list[dict[str, Any]], mode: str,
                         wait: str) -> JSONResponse:
    """:func:`answer` for a batch whose every event is well-typed, given as the records
    :func:`answer` would make of it (the lean path's
    :func:`~shopintent.serve.schemas.events.plain_batch`)."""
    _check_size(service, len(records))
    return await _answer(service, None, records, mode, wait)


def _check_size(service: Service, n: int) -> None:
    limit = service.config.max_batch_events
    if n > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"{n:,} events in one request; the limit is {limit:,}")


async def _answer(service: Service, entries: list[EventIn | InvalidEvent] | None,
                  records: list[dict[str, Any]], mode: str, wait: str) -> JSONResponse:
    """The answer for ``records`` (the well-typed events of ``entries``; see :func:`_join`)."""
    if mode == "stream":
        # Validation and protection run off the event loop, before anything is published.
        published = await run_in_threadpool(service.publish, records) if records else None
        results = _join(service, entries, published.results if published else [], "stream")
        body: dict[str, Any] = {
            "received": len(results),
            "accepted": sum(r.status != REJECTED for r in results),
            "rejected": sum(r.status == REJECTED for r in results),
            "message_id": published.message_id if published else None,
            "stream": service.source.backend,
            "results": [{"index": r.index, "event_id": r.event_id, "status": r.status,
                         "reasons": list(r.reasons)} for r in results],
        }
        return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED)
    try:
        outcome = await service.ingest(records, wait_store=wait == "store") if records else None
    except SinkNotHere as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    except TimeoutError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "the events are committed to the event log, but the store sink has "
                            "not stored them yet; retry with wait=log or later",
                            headers={"Retry-After": "5"}) from exc
    results = _join(service, entries, outcome.results if outcome else [], "http")
    # Built as plain JSON: validating thousands of result objects twice costs more than storing them.
    body = {
        "received": len(results),
        "stored": sum(r.status == STORED for r in results),
        "duplicates": sum(r.status == DUPLICATE for r in results),
        "rejected": sum(r.status == REJECTED for r in results),
        "results": [{"index": r.index, "event_id": r.event_id, "status": r.status,
                     "reasons": list(r.reasons), "session_id": r.session_id} for r in results],
        "decisions": [{k: d[k] for k in DecisionOut.model_fields}
                      for d in (outcome.decisions if outcome else [])],
    }
    return JSONResponse(body)
