"""``GET /v1/sessions``: live session state with the behaviour model's scores."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from shopintent.serve.adapters.base import ModelUnavailable
from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.sessions import SessionList, SessionOut
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["sessions"])


@router.get("/sessions/{session_id}", response_model=SessionOut, responses={404: {}})
def get_session(session_id: str, service: Service = Depends(get_service)) -> SessionOut:
    """A live session by its id (as shown by the service) or the client's own session id."""
    state = service.resolve_session(session_id)
    risk = service.risk.verdict_for(state.session_id)
    try:
        scores = service.score([state])[0]
    except ModelUnavailable as exc:
        return SessionOut(**state.to_dict(), scores_unavailable=exc.reason, risk=risk)
    return SessionOut(**state.to_dict(), scores=scores, risk=risk)


@router.get("/sessions", response_model=SessionList)
def list_sessions(limit: int = Query(20, ge=1, le=500),
                  service: Service = Depends(get_service)) -> SessionList:
    """Live sessions, ranked by purchase probability when the model is loaded (else recency)."""
    rows, missing = service.live_sessions(limit)
    return SessionList(live=service.state.count_live(), clock=service.state.clock(),
                       sessions=[SessionOut(**r) for r in rows], scores_unavailable=missing)
