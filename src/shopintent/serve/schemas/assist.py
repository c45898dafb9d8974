"""Bodies of ``POST /v1/assist`` and ``GET /v1/assist/live``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shopintent.serve.schemas.common import Id, Text


class AssistRequest(BaseModel):
    """One shopper message to the customer-service assistant."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"session_id": "s_…", "text": "我的订单 2017120300001 到哪了？"}]})

    session_id: Id = Field(..., description="The id the service issued for the shopper's session "
                           "(from POST /v1/events): the assistant answers about that shopper's own "
                           "orders and keeps the conversation in that session.")
    text: Text = Field(..., min_length=1, description="What the shopper typed (at most 2,000 characters).")
    product_id: Id | None = Field(None, description="The product the question is about, if any "
                                  "(narrows the Q&A answers to it; remembered for follow-ups).")


class AssistDecision(BaseModel):
    """The decision engine's action after the message (its intent is the session's latest)."""

    decision_id: str | None = None
    action: str | None = None
    blocked: dict[str, str] | None = None


class AssistResponse(BaseModel):
    """The answer, where it came from, and whether a person takes over."""

    answer: str = Field(..., description="A template of the shop's file filled from its store, or a "
                        "stored Q&A answer; never generated text.")
    sources: list[str] = Field(..., description="template:<flow>.<language>.<outcome>, store:<keyed "
                               "event id> of the order read, qa:<Q&A id>.")
    intent: str | None
    confidence: float | None
    language: str
    escalate: bool
    reason: str | None = Field(None, description="Why a person takes over: asked_for_person, "
                               "high_risk, negative_sentiment, out_of_scope, low_confidence, no_store.")
    flow: str | None = Field(None, description="The service flow that answered (order_status, cancel, "
                             "return, refund, delivery, payment, account).")
    turn: int = Field(..., description="How many messages this session has sent the assistant.")
    decision: AssistDecision | None = None


class AssistLive(BaseModel):
    """What the dashboard's assistant card shows: counts since start and the latest conversations."""

    model_config = ConfigDict(extra="allow")

    messages: int
    answered: int
    escalated: int
    answer_rate: float | None
    escalation_rate: float | None
    reasons: dict[str, int]
    flows: dict[str, int]
    live_conversations: int
    conversations: list[dict[str, Any]]
    recent_escalations: list[dict[str, Any]]
