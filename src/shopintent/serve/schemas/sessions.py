"""Bodies of ``GET /v1/sessions``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


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


class SessionList(BaseModel):
    """Live sessions (active within the gap of the stream clock)."""

    live: int
    clock: float
    sessions: list[SessionOut]
    scores_unavailable: str | None = None
