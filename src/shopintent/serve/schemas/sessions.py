"""Bodies of ``GET /v1/sessions``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SessionOut(BaseModel):
    """A live session: counts so far and, when the behaviour model is loaded, its scores."""

    session_id: str
    user_id: str
    start: float
    last: float
    counts: dict[str, int]
    items: list[str]
    categories: list[str]
    revenue: float
    cart_value: float
    scores: dict[str, Any] | None = None
    scores_unavailable: str | None = None
    risk: dict[str, Any] | None = Field(None, description="the session's latest risk verdict (anomaly score, "
                                        "action allow/review/hold/block, reasons); none before the risk "
                                        "model scored it")


class SessionList(BaseModel):
    """Live sessions (active within the gap of the stream clock)."""

    live: int
    clock: float
    sessions: list[SessionOut]
    scores_unavailable: str | None = None
