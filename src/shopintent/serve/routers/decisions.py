"""``POST /v1/decisions`` and ``POST /v1/outcomes``: the intervention engine and its feedback."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from shopintent.serve.auth import require_api_key
from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.decisions import (
    DecisionRequest,
    DecisionResponse,
    OutcomeRequest,
    OutcomeResponse,
)
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["decisions"], dependencies=[Depends(require_api_key)])


@router.post("/decisions", response_model=DecisionResponse, responses={401: {}, 404: {}, 503: {}})
def post_decision(body: DecisionRequest, service: Service = Depends(get_service)) -> DecisionResponse:
    """The engine's action for a live session, with its propensity (logged first)."""
    return DecisionResponse(**service.decide_for(body.session_id))


@router.post("/outcomes", response_model=OutcomeResponse, responses={401: {}, 404: {}})
def post_outcome(body: OutcomeRequest, service: Service = Depends(get_service)) -> OutcomeResponse:
    """Join an outcome to a logged decision (idempotent per decision and kind)."""
    return OutcomeResponse(**service.record_outcome(body.decision_id, body.kind, body.value,
                                                    body.timestamp))
