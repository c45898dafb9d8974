"""Bodies of ``POST /v1/intent``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shopintent.serve.schemas.common import Text


class IntentRequest(BaseModel):
    """Something a shopper typed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "我要退货"}]})

    text: Text = Field(..., min_length=1)
    session_id: str | None = Field(
        None, min_length=1, max_length=200,
        description="The id the service issued for the shopper's session (from POST /v1/events). "
        "When given, the intent becomes the session's latest text intent, which decisions see.")


class IntentResponse(BaseModel):
    """The text package's reading: language, intent, confidence, slots, sentiment."""

    model_config = ConfigDict(extra="allow")

    language: str | None = None
    intent: str | None = None
    confidence: float | None = None
    slots: Any = None
    sentiment: Any = None
