"""Bodies of ``POST /v1/events``.

The body is one event or ``{"events": [...]}``. The *envelope* is checked as a
whole: a body that is not JSON, not an object, has fields beside ``events``, or
is too big gets 4xx naming the problem. Each *event* is checked on its own: an
event with a wrong JSON type (``"price": "abc"``, ``"quantity": [1]``), an
unknown field or text that is not valid Unicode becomes an :class:`InvalidEvent`
holding its reasons, and is answered ``rejected`` while the rest of the batch is
stored. Whether a well-typed event makes *sense* (a known event type, a date in
range, an item on a purchase) is the validator's job
(:func:`shopintent.schema.validation.validate_events`), with the same per-event
answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictStr,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from typing_extensions import TypedDict

from shopintent.serve.schemas.common import Id, Text

MAX_BATCH = 10_000
_BIG = 2**53  # beyond this a JSON number is not an exact integer anywhere
_SHOWN = 60  # characters of a wrong value echoed in its reason


class EventIn(BaseModel):
    """One shopper event, as a shop sends it (ids raw: the service pseudonymises them)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "event_id": "evt-1", "user_id": "1001", "session_id": "web-7",
        "timestamp": "2024-05-01T09:00:00Z", "event_type": "view", "item_id": "sku-1"}]})

    event_id: Id | None = Field(None, description="Client id; makes retries idempotent.")
    user_id: Id | None = None
    session_id: Id | None = None
    timestamp: Annotated[str, Field(max_length=64)] | int | float | None = Field(
        None, description="ISO-8601 or unix seconds; at most SHOPINTENT_MAX_FUTURE_SKEW_S "
        "(default 300 s) after the service's clock.")
    event_type: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="view, search, add_to_cart, remove_from_cart, favourite, purchase "
        "(or an alias: pv, cart, buy, fav…).")
    item_id: Id | None = None
    category_id: Id | None = None
    query: Text | None = None
    price: Annotated[float, Field(ge=-1e15, le=1e15)] | None = None
    quantity: Annotated[int, Field(ge=-_BIG, le=_BIG)] | None = None


#: What each field must be, in the words a reason uses.
_EXPECTED: dict[str, str] = {
    **dict.fromkeys(("event_id", "user_id", "session_id", "item_id", "category_id"),
                    "an id (text or an integer)"),
    "timestamp": "a date (ISO-8601 text or unix seconds)",
    "event_type": "text",
    "query": "text",
    "price": "a number",
    "quantity": "a whole number",
}
_CLIENT_ID = TypeAdapter(Id)


@dataclass(frozen=True)
class InvalidEvent:
    """An event whose JSON types are wrong: why, and the client's ``event_id`` if it is usable."""

    reasons: tuple[str, ...]
    client_event_id: str | None = None


def _printable(text: str) -> str:
    # A reason goes out as UTF-8 JSON: a lone surrogate in a field name must not break it.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _shown(value: Any) -> str:
    text = repr(value)  # repr escapes surrogates and control characters
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _limit_words(problem: Any) -> str:
    """A length, range or Unicode limit in words (pydantic's message, else its context)."""
    kind, ctx = str(problem["type"]), problem.get("ctx") or {}
    if kind in ("string_too_long", "too_long") and "max_length" in ctx:
        return f"is longer than {ctx['max_length']:,} characters"
    if kind in ("string_too_short", "too_short"):
        return "is empty"
    if kind == "less_than_equal" and "le" in ctx:
        return f"is above {ctx['le']:g}"
    if kind == "greater_than_equal" and "ge" in ctx:
        return f"is below {ctx['ge']:g}"
    if kind == "string_unicode":
        return "is not valid Unicode (a lone surrogate); send UTF-8 text"
    message = str(problem["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _type_reasons(raw: Any, error: ValidationError) -> tuple[str, ...]:
    """One reason per field, in the validator's shape: ``` `price` 'abc' is not a number ```."""
    if not isinstance(raw, dict):
        return (f"`event` {_shown(raw)} is not a JSON object "
                '(an event is {"user_id": …, "timestamp": …, "event_type": …})',)
    reasons: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        if not problem["loc"]:  # the object itself: a field name that is not valid Unicode
            reasons.setdefault("", f"`event` has a field name that {_limit_words(problem)}")
            continue
        field = str(problem["loc"][0])
        if field in reasons:
            continue  # a union field reports once per branch; one reason is enough
        name = _printable(field)
        kind = str(problem["type"])
        if kind == "extra_forbidden":
            reasons[field] = f"`{name}` is not an event field ({', '.join(EventIn.model_fields)})"
        elif kind.endswith(("_type", "_parsing")) or kind == "int_from_float":
            reasons[field] = f"`{name}` {_shown(raw.get(field))} is not {_EXPECTED[field]}"
        else:
            reasons[field] = f"`{name}` {_shown(raw.get(field))} {_limit_words(problem)}"
    return tuple(reasons.values())


def _client_event_id(raw: Any) -> str | None:
    if not isinstance(raw, dict) or raw.get("event_id") is None:
        return None
    try:
        return _CLIENT_ID.validate_python(raw["event_id"])
    except ValidationError:
        return None


def _keep_type_errors(raw: Any, handler: ValidatorFunctionWrapHandler) -> EventIn | InvalidEvent:
    try:
        return handler(raw)  # type: ignore[no-any-return]
    except ValidationError as error:
        return InvalidEvent(_type_reasons(raw, error), _client_event_id(raw))


#: One event of a body: an :class:`EventIn`, or an :class:`InvalidEvent` when its types are wrong.
#: (Documented in the OpenAPI schema as :class:`EventIn`, the shape a client must send.)
EventEntry = Annotated[EventIn, WrapValidator(_keep_type_errors)]


class EventBatch(BaseModel):
    """Several events in one request (up to the service's batch limit)."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventEntry] = Field(..., max_length=MAX_BATCH)


def _body_kind(body: Any) -> str | None:
    if isinstance(body, dict):
        return "EventBatch" if "events" in body else "EventIn"
    return None


#: The body of ``POST /v1/events``: a batch, or one event. The tags are the model names, so an
#: envelope error names its field as before (``events``), not the branch.
EventsBody = Annotated[
    Annotated[EventBatch, Tag("EventBatch")] | Annotated[EventEntry, Tag("EventIn")],
    Discriminator(_body_kind, custom_error_type="body_shape",
                  custom_error_message='the body must be one event (a JSON object) or '
                  '{"events": [...]}'),
]


# --- the lean path's check of an ordinary batch --------------------------------------------
#: An id as :data:`~shopintent.serve.schemas.common.Id` takes it, but only as text (an integer
#: id is the general path's: it turns it into text).
_PlainId = Annotated[StrictStr, Field(min_length=1, max_length=256)]


class _PlainEvent(TypedDict, total=False):
    """:class:`EventIn`'s fields and limits, validated into a dict by pydantic-core alone."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    event_id: _PlainId | None
    user_id: _PlainId | None
    session_id: _PlainId | None
    timestamp: Annotated[str, Field(max_length=64)] | int | float | None
    event_type: Annotated[str, Field(max_length=64)] | None
    item_id: _PlainId | None
    category_id: _PlainId | None
    query: Annotated[str, Field(max_length=2000)] | None
    price: Annotated[float, Field(ge=-1e15, le=1e15)] | None
    quantity: Annotated[int, Field(ge=-_BIG, le=_BIG)] | None


class _PlainBatch(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    events: Annotated[list[_PlainEvent], Field(max_length=MAX_BATCH)]


_PLAIN_BATCH = TypeAdapter(_PlainBatch)
_PLAIN_EVENT = TypeAdapter(_PlainEvent)
#: A JSON escape that could spell a lone surrogate or a NUL (``\ud800``, ``\u0000``); without
#: one, text parsed from the UTF-8 body holds neither (a raw one is not valid UTF-8 / JSON).
_RISKY_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")


def plain_batch(data: Any, body: bytes) -> list[dict[str, Any]] | None:
    """The events of an ordinary body — ``{"events": [...]}`` or one event object — as the
    route's records, or None.

    The records are what :data:`EventsBody` and ``model_dump(exclude_none=True)`` make of
    the same body, built without a pydantic model and a Python validator call per event
    and field (five times cheaper for a batch; for one event per request, the shape a
    live shop sends, about a tenth of a millisecond of the event loop per request). Only
    a body where every event is well-typed, every id is text and no escape could spell a
    lone surrogate or NUL (the checks the Python validators of
    :mod:`~shopintent.serve.schemas.common` make) is taken; for any other (``data`` is
    ``json.loads(body)``) the answer is None and the general path decides, with its
    per-event reasons.
    ``tests/serve/test_events_fast_path.py`` compares both on real and generated events.
    """
    if not isinstance(data, dict) or _RISKY_ESCAPE.search(body):
        return None
    try:
        events = (_PLAIN_BATCH.validate_python(data)["events"] if "events" in data
                  else [_PLAIN_EVENT.validate_python(data)])
    except ValidationError:
        return None
    return [event if None not in event.values() else
            {name: value for name, value in event.items() if value is not None}
            for event in events]


class EventResultOut(BaseModel):
    """What happened to one event; ``event_id`` is the keyed id it is stored under."""

    index: int
    event_id: str | None = Field(description="Keyed id (e_…) the event is stored under; the "
                                 "client's own id is never echoed. Null for a rejected event "
                                 "sent without an id.")
    status: Literal["stored", "duplicate", "rejected"] = Field(
        description="stored: committed to the durable event log (the store sink writes it to the "
        "event store behind the answer); duplicate: seen before; rejected: see reasons.")
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
    """Counts and per-event outcomes; events are committed to the durable event log when this is
    sent (``stored``), and in the event store too with ``?wait=store``."""

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
