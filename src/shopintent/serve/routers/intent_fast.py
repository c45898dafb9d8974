"""The lean path of ``POST /v1/intent`` (:mod:`shopintent.serve.routers.lean`).

The body is validated with the route's own type (:class:`~shopintent.serve.schemas.intent.IntentRequest`)
and answered as the route answers it (:func:`~shopintent.serve.routers.intent.answer`);
a body that is not JSON of that shape goes to the route (its 422).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import QueryParams

from shopintent.serve.routers import intent
from shopintent.serve.routers.lean import Answer
from shopintent.serve.schemas.intent import IntentRequest


class IntentPath:
    """``POST /v1/intent``, read scope (the route takes no query parameters)."""

    method, path, scope, router = "POST", "/v1/intent", "read", intent.router

    def keep(self, service: Any, query: QueryParams, body: bytes) -> Answer | None:
        try:
            request = IntentRequest.model_validate(json.loads(body))
        except Exception:  # not JSON, not the shape: the route's 422
            return None
        return lambda: intent.answer(service, request)
