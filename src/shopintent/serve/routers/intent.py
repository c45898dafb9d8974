"""``POST /v1/intent``: what a shopper's text means."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shopintent.serve.schemas.intent import IntentRequest, IntentResponse
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["text"])


@router.post("/intent", response_model=IntentResponse, responses={404: {}, 503: {}})
async def post_intent(body: IntentRequest, request: Request) -> JSONResponse:
    """Language, intent (or out-of-scope), confidence, slots and sentiment of one text.

    With ``session_id`` the intent is kept as that session's latest (404 for an id the
    service did not issue or that has expired)."""
    return await answer(request.app.state.service, body)


async def answer(service: Service, body: IntentRequest) -> JSONResponse:
    """The route's answer, shared with its lean ASGI path (:mod:`shopintent.serve.routers.intent_fast`).

    The parser's answer is already JSON-ready and has the documented shape
    (IntentResponse, which the OpenAPI schema shows): answering it directly skips a
    pydantic validation and re-serialisation per request, the service's hottest path.
    """
    return JSONResponse(await service.parse(body.text, session_id=body.session_id))
