"""``GET /v1/recommendations``: top-k items for a live session."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from shopintent.serve.routers.deps import get_service
from shopintent.serve.schemas.recommendations import Recommendation, RecommendationList
from shopintent.serve.service import Service

router = APIRouter(prefix="/v1", tags=["recommend"])


@router.get("/recommendations", response_model=RecommendationList, responses={404: {}, 503: {}})
def get_recommendations(
    session: str = Query(..., min_length=1, max_length=256, description="Session id."),
    k: int = Query(10, ge=1, le=100),
    service: Service = Depends(get_service),
) -> RecommendationList:
    """The recommender's top-k for the session's recent items, with scores."""
    state, items = service.recommend(session, k)
    return RecommendationList(session_id=state.session_id, k=k, history=state.items,
                              items=[Recommendation(**i) for i in items],
                              model=service.models["recommend"].status())
