"""Bodies of ``POST /v1/events``.

The edge checks *shape* (known fields, JSON types, sizes): a request that
breaks it gets 422 naming the field. Whether an event makes *sense* (a known
event type, a date in range, an item on a purchase) is the validator's job
(:func:`shopintent.schema.validation.validate_events`): those events are
rejected one by one with reasons while the rest of the batch is stored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shopintent.serve.schemas.common import Id, Text

MAX_BATCH = 10_000
_BIG = 2**53  # beyond this a JSON number is not an exact integer anywhere


class EventIn(BaseModel):
    """One shopper event, as a shop sends it (ids raw: the service pseudonymises them)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "event_id": "evt-1", "user_id": "1001", "session_id": "web-7",
        "timestamp": "2024-05-01T09:00:00Z", "event_type": "view", "item_id": "sku-1"}]})

    event_id: Id | None = Field(None, description="Client id; makes retries idempotent.")
    user_id: Id | None = None
    session_id: Id | None = None
    timestamp: Annotated[str, Field(max_length=64)] | int | float | None = Field(
        None, description="ISO-8601 or unix seconds.")
    event_type: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="view, search, add_to_cart, remove_from_cart, favourite, purchase "
        "(or an alias: pv, cart, buy, fav…).")
    item_id: Id | None = None
    category_id: Id | None = None
    query: Text | None = None
    price: Annotated[float, Field(ge=-1e15, le=1e15)] | None = None
    quantity: Annotated[int, Field(ge=-_BIG, le=_BIG)] | None = None


class EventBatch(BaseModel):
    """Several events in one request (up to the service's batch limit)."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(..., max_length=MAX_BATCH)


class EventResultOut(BaseModel):
    """What happened to one event; ``event_id`` is the keyed id it is stored under."""

    index: int
    event_id: str | None = Field(description="Keyed id (e_…) the event is stored under; the "
                                 "client's own id is never echoed. Null for a rejected event "
                                 "sent without an id.")
    status: Literal["stored", "duplicate", "rejected"]
    reasons: list[str] = []
    session_id: str | None = None


class DecisionOut(BaseModel):
    """An intervention decided for a session touched by the request."""

    decision_id: str
    session_id: str
    action: str
    propensity: float
    policy_version: str
    cost: float
    trigger: str


class IngestResponse(BaseModel):
    """Counts and per-event outcomes; events are in the store when this is sent."""

    received: int
    stored: int
    duplicates: int
    rejected: int
    results: list[EventResultOut]
    decisions: list[DecisionOut] = []


class StreamEventResultOut(BaseModel):
    """What happened to one event of a ``mode=stream`` request."""

    index: int
    event_id: str | None = Field(description="Keyed id (e_…) the event will be stored under.")
    status: Literal["accepted", "rejected"]
    reasons: list[str] = []


class StreamAccepted(BaseModel):
    """Valid events put on the stream (``mode=stream``), already protected; stored by the
    consumer shortly after. Invalid events are rejected with reasons and not published."""

    received: int
    accepted: int
    rejected: int
    message_id: str | None = Field(description="Stream message id; null when no event was valid.")
    stream: str
    results: list[StreamEventResultOut]
