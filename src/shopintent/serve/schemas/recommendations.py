"""Bodies of ``GET /v1/recommendations``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Recommendation(BaseModel):
    """One recommended item and its score."""

    model_config = ConfigDict(extra="allow")

    item_id: str
    score: float | None = None


class RecommendationList(BaseModel):
    """Top-k items for a live session."""

    session_id: str
    k: int
    history: list[str]
    items: list[Recommendation]
    model: dict[str, object]
