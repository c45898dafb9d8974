"""``POST /v1/intent``: what a shopper's text means."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.intent import IntentRequest, IntentResponse
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["text"])


@router.post("/intent", response_model=IntentResponse, responses={404: {}, 503: {}})
async def post_intent(body: IntentRequest, service: Service = Depends(get_service)) -> IntentResponse:
    """Language, intent (or out-of-scope), confidence, slots and sentiment of one text.

    With ``session_id`` the intent is kept as that session's latest (404 for an id the
    service did not issue or that has expired)."""
    return IntentResponse(**await service.parse(body.text, session_id=body.session_id))
