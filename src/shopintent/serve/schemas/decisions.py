"""Bodies of ``POST /v1/decisions`` and ``POST /v1/outcomes``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shopintent.serve.schemas.common import Id


class DecisionRequest(BaseModel):
    """Ask the engine what to do for a live session now."""

    model_config = ConfigDict(extra="forbid")

    session_id: Id


class DecisionResponse(BaseModel):
    """The engine's choice, logged with its propensity before it is returned."""

    decision_id: str
    session_id: str
    action: str
    propensity: float
    policy_version: str
    cost: float
    trigger: str
    probabilities: dict[str, float]
    blocked: dict[str, str]
    context: dict[str, Any]


class OutcomeRequest(BaseModel):
    """What followed a decision (purchase, click, redemption…)."""

    model_config = ConfigDict(extra="forbid")

    decision_id: Id
    kind: str = Field(..., min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    value: float = Field(1.0, ge=-1e12, le=1e12)
    timestamp: datetime | None = None


class OutcomeResponse(BaseModel):
    """The outcome, logged against its decision."""

    decision_id: str
    kind: str
    value: float
    timestamp: datetime
