"""``POST /v1/assist`` (write): the customer-service assistant; ``GET /v1/assist/live`` (read):
its dashboard numbers."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from shopintent.serve.auth import require_scope
from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.assist import AssistLive, AssistRequest, AssistResponse
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["assist"])
#: The dashboard's read-only numbers (registered with the read scope, open with ``public_dashboard``).
live_router = APIRouter(prefix="/v1", tags=["assist"])


@router.post("/assist", response_model=AssistResponse, responses={404: {}, 422: {}, 503: {}})
async def post_assist(body: AssistRequest, service: Service = Depends(get_service)) -> AssistResponse:
    """Answer a shopper's message: a service flow over their own orders, a Q&A answer, or a
    hand-over to a person with its reason. The message's intent becomes the session's latest
    (the decision engine sees it); the conversation is kept in the session."""
    return AssistResponse(**await service.assist(body.text, body.session_id, body.product_id))


@live_router.get("/assist/live", response_model=AssistLive,
                 dependencies=[Depends(require_scope("read", public_dashboard=True))],
                 responses={401: {}, 403: {}, 429: {}})
def get_assist_live(service: Service = Depends(get_service)) -> AssistLive:
    """Messages, answer rate, hand-overs by reason and the latest conversations since start."""
    return AssistLive(**service.assist_desk.stats.snapshot())
