"""The lean path of ``POST /v1/events`` (:mod:`shopintent.serve.routers.lean`).

An ordinary batch (every event well-typed, ids as text) or one ordinary event is
validated into the route's records directly
(:func:`~shopintent.serve.schemas.events.plain_batch`: the same records, without a
pydantic model and Python validator calls per event); any other JSON body of the
documented shape is validated with the route's own pydantic type
(:data:`~shopintent.serve.schemas.events.EventsBody`). The answer is built by
:func:`~shopintent.serve.routers.events.answer`, the route's own. A query parameter
outside its values, or a body that is not JSON of that shape, goes to the route.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter
from starlette.datastructures import QueryParams

from shopintent.serve.routers import events
from shopintent.serve.routers.lean import Answer
from shopintent.serve.schemas.events import EventsBody, plain_batch

#: The route's query parameters and the values each accepts (its first value is the default).
_QUERY = {"mode": ("sync", "stream"), "wait": ("log", "store")}
_BODY = TypeAdapter(EventsBody)


class EventsPath:
    """``POST /v1/events``, write scope."""

    method, path, scope, router = "POST", "/v1/events", "write", events.router

    def keep(self, service: Any, query: QueryParams, body: bytes) -> Answer | None:
        chosen = {name: query.get(name, allowed[0]) for name, allowed in _QUERY.items()}
        if any(chosen[name] not in allowed for name, allowed in _QUERY.items()):
            return None
        try:
            data = json.loads(body)
            records = plain_batch(data, body)  # an ordinary body: records without models
            payload = None if records is not None else _BODY.validate_python(data)
        except Exception:  # not JSON, not the shape: the route's 422/400
            return None
        mode, wait = chosen["mode"], chosen["wait"]
        if records is not None:
            return lambda: events.answer_records(service, records, mode, wait)
        return lambda: events.answer(service, payload, mode, wait)
