"""API-key check for write endpoints (``X-API-Key``).

Keys are compared in constant time and never logged or echoed: a failure
says only that the key is missing or not valid.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

HEADER = "X-API-Key"


class ApiKeys:
    """The accepted keys; ``check`` is used as a FastAPI dependency."""

    __slots__ = ("_keys",)

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one API key is needed")
        self._keys = tuple(k.encode("utf-8") for k in keys)

    def __repr__(self) -> str:
        return f"ApiKeys(<{len(self._keys)} hidden>)"

    def valid(self, given: str | None) -> bool:
        """Whether ``given`` is one of the keys (constant time in the key's content)."""
        if not given:
            return False
        try:
            candidate = given.encode("utf-8")
        except UnicodeEncodeError:
            return False
        found = False
        for key in self._keys:
            found |= hmac.compare_digest(candidate, key)
        return found


def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the request carries a valid ``X-API-Key``."""
    keys: ApiKeys = request.app.state.api_keys
    given = request.headers.get(HEADER)
    if given is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"missing API key: send it in the {HEADER} header",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    if not keys.valid(given):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"the {HEADER} header does not hold a valid API key",
            headers={"WWW-Authenticate": "ApiKey"},
        )
