"""API keys with scopes (``X-API-Key``) and the FastAPI dependency that guards each route.

A key grants ``read``, ``write`` or ``admin`` (admin implies the other two).
``SHOPINTENT_API_KEYS`` stays a comma-separated list; an entry is ``KEY``
(every scope, as before scopes existed, so old set-ups keep working) or
``KEY:read``, ``KEY:read+write``, ``KEY:admin``.

Keys are compared in constant time and never logged, echoed or counted under
their own value: rate limits and logs see only :attr:`ApiKey.key_id`, a short
SHA-256 fingerprint. A failure says only that the key is missing, not valid, or
lacks the scope the route needs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request, Security, status
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

if TYPE_CHECKING:
    from shopintent.serve.rate_limit import RateLimiter

HEADER = "X-API-Key"
#: The scopes a key can carry; ``admin`` includes the others.
SCOPES = ("read", "write", "admin")
#: The rate-limit bucket of requests that carry no valid key (limited by client address).
ANONYMOUS = "anonymous"

#: The security scheme every guarded operation declares in the OpenAPI schema.
API_KEY_HEADER = APIKeyHeader(
    name=HEADER, scheme_name="ApiKey", auto_error=False,
    description="An API key from SHOPINTENT_API_KEYS; its scopes (read, write, admin) decide "
    "which operations it may call.",
)


@dataclass(frozen=True)
class ApiKey:
    """One accepted key: its secret (hidden from ``repr``), scopes and public fingerprint."""

    secret: bytes = field(repr=False)
    scopes: frozenset[str]

    @cached_property
    def key_id(self) -> str:
        """A fingerprint that names the key in limits and logs without revealing it.

        Hashed once per key (not per request): it is derived from the secret alone."""
        return "k_" + hashlib.sha256(b"shopintent-api-key\x00" + self.secret).hexdigest()[:16]

    def allows(self, scope: str) -> bool:
        """Whether the key may call a route that needs ``scope``."""
        return "admin" in self.scopes or scope in self.scopes


def parse_api_keys(entries: Iterable[str], source: str = "SHOPINTENT_API_KEYS") -> tuple[ApiKey, ...]:
    """Parse ``KEY`` / ``KEY:scope+scope`` entries; errors name the entry, never its key.

    >>> [sorted(k.scopes) for k in parse_api_keys(["a1", "b2:read", "c3:read+write"])]
    [['admin', 'read', 'write'], ['read'], ['read', 'write']]
    """
    keys: list[ApiKey] = []
    seen: dict[bytes, int] = {}
    for number, raw in enumerate(entries, start=1):
        entry = raw.strip()
        if not entry:
            continue
        secret, sep, scope_text = entry.rpartition(":")
        if not sep:
            secret, scopes = entry, frozenset(SCOPES)
        else:
            names = [s.strip() for s in scope_text.split("+")]
            unknown = [s for s in names if s not in SCOPES]
            if unknown or not secret:
                problem = ("has no key before ':'" if not secret else
                           "has text after its last ':' that is not a scope list")
                raise ValueError(f"{source} entry {number} {problem}: write KEY (full access) or "
                                 f"KEY:SCOPE[+SCOPE] with scopes from {', '.join(SCOPES)}")
            scopes = frozenset(names)
        encoded = secret.encode("utf-8")
        if encoded in seen:
            raise ValueError(f"{source} entry {number} repeats the key of entry {seen[encoded]}; "
                             "list each key once with all its scopes (KEY:read+write)")
        seen[encoded] = number
        keys.append(ApiKey(encoded, scopes))
    return tuple(keys)


class KeyRing:
    """The accepted keys; :meth:`find` looks a presented key up in constant time."""

    __slots__ = ("_keys",)

    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        if not keys:
            raise ValueError("at least one API key is needed")
        self._keys = keys

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self._keys)} hidden>)"

    def __len__(self) -> int:
        return len(self._keys)

    def find(self, given: str | None) -> ApiKey | None:
        """The key equal to ``given``, comparing with every key so timing reveals nothing."""
        if not given:
            return None
        try:
            candidate = given.encode("utf-8")
        except UnicodeEncodeError:
            return None
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(candidate, key.secret):
                found = key
        return found

    def valid(self, given: str | None) -> bool:
        """Whether ``given`` is one of the keys."""
        return self.find(given) is not None


@dataclass(frozen=True)
class Access:
    """What the guard consults (``app.state.access``): keys, rate limiter, open dashboard or not."""

    keys: KeyRing
    limiter: RateLimiter
    public_dashboard: bool = False


@dataclass(frozen=True)
class Caller:
    """Who made a request, as the routes and logs may see it (no secret)."""

    key_id: str | None
    scopes: frozenset[str]
    client: str


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def count_request(request: Request, bucket: str, identity: str) -> None:
    """Count the request in ``bucket``; 429 with ``Retry-After`` when over the limit.

    The guard's counting, also used by the lean paths of ``POST /v1/events`` and ``/v1/intent``
    (:mod:`shopintent.serve.routers.lean`), so both count alike."""
    wait = await request.app.state.access.limiter.retry_after(bucket, identity)
    if wait is None:
        return
    service = getattr(request.app.state, "service", None)
    if service is not None:
        service.metrics.rate_limited.labels(bucket).inc()
    raise HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"rate limit of the {bucket!r} bucket reached for this "
        f"{'client address' if bucket == ANONYMOUS else 'API key'}; retry after {wait:.0f} s",
        headers={"Retry-After": f"{wait:.0f}"},
    )


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "ApiKey"})


async def refusal_before_guard(request: Request) -> JSONResponse | None:
    """The 401/429 a ``/v1`` request gets when it failed *before* its guard ran.

    FastAPI parses a JSON body before it runs dependencies, so a malformed body
    would answer 422 to a caller without a key. The validation-error handler
    asks this first: a caller without a valid key learns nothing about the body,
    and its attempt is counted like any other (no way around the limit).
    """
    if not request.url.path.startswith("/v1") or hasattr(request.state, "caller"):
        return None
    access = request.app.state.access
    given = request.headers.get(HEADER) or None
    if access.keys.find(given) is not None:
        return None
    try:
        await count_request(request, ANONYMOUS, _client_address(request))
        if given is None:
            raise _unauthorised(f"missing API key: send it in the {HEADER} header")
        raise _unauthorised(f"the {HEADER} header does not hold a valid API key")
    except HTTPException as refused:
        return JSONResponse({"detail": refused.detail}, status_code=refused.status_code,
                            headers=refused.headers)


@lru_cache(maxsize=None)
def require_scope(scope: str, public_dashboard: bool = False) -> Callable[..., Awaitable[Caller]]:
    """FastAPI dependency: 401 without a valid key, 403 without ``scope``, 429 over the limit.

    ``public_dashboard=True`` marks a dashboard/metrics route: when the service
    runs with ``public_dashboard`` it also answers requests without a key
    (limited per client address). The same arguments return the same function,
    so FastAPI runs it once per request even when a router and a route both
    declare it.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")

    async def guard(request: Request, given: str | None = Security(API_KEY_HEADER)) -> Caller:
        access = request.app.state.access
        client = _client_address(request)
        key = access.keys.find(given)
        if key is None:
            await count_request(request, ANONYMOUS, client)
            if public_dashboard and access.public_dashboard and given is None:
                caller = Caller(None, frozenset({"read"}), client)
                request.state.caller = caller
                return caller
            if given is None:
                raise _unauthorised(f"missing API key: send it in the {HEADER} header")
            raise _unauthorised(f"the {HEADER} header does not hold a valid API key")
        await count_request(request, scope, key.key_id)
        if not key.allows(scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this API key's scopes ({'+'.join(sorted(key.scopes))}) do not include "
                f"{scope!r}, which this operation needs",
            )
        caller = Caller(key.key_id, key.scopes, client)
        request.state.caller = caller
        return caller

    guard.__name__ = f"require_{scope}" + ("_or_public_dashboard" if public_dashboard else "")
    guard.__doc__ = f"A valid key with the {scope!r} scope (admin implies it)."
    return guard


#: The dependency the write routers declare themselves (the same function as ``require_scope("write")``).
require_api_key = require_scope("write")
