"""A cap ledger and issued-decision ids in Redis, so caps hold across worker processes.

With ``shopintent serve --workers N`` every worker runs its own
:class:`~shopintent.intervene.DecisionEngine`; a per-process ledger would let
each worker spend the whole daily budget. :class:`RedisCapLedger` keeps the
counts in Redis and makes check-and-charge one Lua script, which Redis runs
atomically, so no interleaving of processes can push a count over its cap.

The engine still samples from the eligible set it computed (from one read of
the counts) and logs that draw's exact probability; the reservation after the
draw can fail when another process took the capacity in between, and the
engine then recomputes the eligible set and draws again (see
:meth:`DecisionEngine.decide_detailed`). :class:`RedisIssuedDecisions` keeps
the ids of issued decisions (with a TTL) so an outcome posted to any worker
joins a decision made by another.

Keys, under ``prefix`` (the service passes ``<stream name>:``):
``caps:spent:<day>`` (budget reserved on that UTC day), ``caps:user:<day>:<user>``
and ``caps:session:<session>`` (interventions issued), ``caps:days`` (the days
charged, for :attr:`RedisCapLedger.spent`), all expiring ``day_ttl_s`` (2 days)
after their last charge; ``decisions:<id>`` expiring ``ttl_s`` after issue.

Example (needs a running Redis; not run as a doctest)::

    ledger = RedisCapLedger("redis://127.0.0.1:6379/0", CapConfig(daily_budget=50.0))
    engine = DecisionEngine(ledger=ledger, issued=RedisIssuedDecisions("redis://127.0.0.1:6379/0"))
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import redis

from shopintent.intervene.actions import Action
from shopintent.intervene.caps import CapConfig, CapUsage, blocked_reason
from shopintent.intervene.context import DecisionContext

#: How long the day, user-day and session counters live after their last charge.
DAY_TTL_S = 2 * 24 * 3600
#: How long an issued decision id is known (an outcome after that is refused as unknown).
DECISION_TTL_S = 24 * 3600

# KEYS: spent, user-day, session, days. ARGV: cost, budget, max user/day, max session, ttl, day.
# The checks are blocked_reason's cap checks in the same order; the charge runs only if all pass.
_RESERVE = """
local cost = tonumber(ARGV[1])
if tonumber(redis.call("GET", KEYS[3]) or "0") >= tonumber(ARGV[4]) then return "cap_session" end
if tonumber(redis.call("GET", KEYS[2]) or "0") >= tonumber(ARGV[3]) then return "cap_user_day" end
if cost > 0 and tonumber(redis.call("GET", KEYS[1]) or "0") + cost > tonumber(ARGV[2]) + 1e-9 then
  return "cap_budget"
end
local ttl = tonumber(ARGV[5])
redis.call("INCRBYFLOAT", KEYS[1], ARGV[1])
redis.call("INCR", KEYS[2])
redis.call("INCR", KEYS[3])
redis.call("SADD", KEYS[4], ARGV[6])
for i = 1, 4 do redis.call("EXPIRE", KEYS[i], ttl) end
return "ok"
"""


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


class RedisCapLedger:
    """Budget per UTC day, interventions per shopper per day and per session, counted in Redis.

    The same interface as :class:`~shopintent.intervene.caps.CapLedger`
    (``config``, ``usage``, ``reason_blocked``, ``reserve``, ``spent``,
    ``blocked``); ``blocked`` counts this process's blocked actions only (a
    metric, not a cap).
    """

    def __init__(self, url: str, config: CapConfig | None = None, prefix: str = "shopintent:events:",
                 day_ttl_s: int = DAY_TTL_S) -> None:
        if day_ttl_s < 1:
            raise ValueError(f"day_ttl_s must be >= 1 second, got {day_ttl_s}")
        self.config = config or CapConfig()
        self.prefix = prefix + "caps:"
        self.day_ttl_s = day_ttl_s
        self.blocked: dict[str, int] = defaultdict(int)
        self._redis = _client(url)
        self._reserve = self._redis.register_script(_RESERVE)

    def _keys(self, context: DecisionContext) -> list[str]:
        day = context.at().date().isoformat()
        return [f"{self.prefix}spent:{day}", f"{self.prefix}user:{day}:{context.user_id}",
                f"{self.prefix}session:{context.session_id}", f"{self.prefix}days"]

    def usage(self, context: DecisionContext) -> CapUsage:
        """The counts for ``context``'s day, shopper and session, in one round trip."""
        spent, user, session = self._redis.mget(self._keys(context)[:3])
        return CapUsage(float(spent or 0.0), int(user or 0), int(session or 0))

    def reason_blocked(self, context: DecisionContext, action: Action,
                       usage: CapUsage | None = None) -> str | None:
        """Why ``action`` may not be taken for ``context`` now (None when it may)."""
        return blocked_reason(self.config, context, action,
                              self.usage(context) if usage is None else usage)

    def reserve(self, context: DecisionContext, action: Action) -> float | None:
        """Check the caps and charge them in one atomic step; the budget reserved, or None.

        None means a cap closed since the engine read the counts (another
        process reserved in between): the engine draws again.
        """
        if not action.is_intervention:
            return 0.0
        cfg = self.config
        cost = float(action.cost(context.cart_value))
        answer = self._reserve(keys=self._keys(context), args=[
            repr(cost), repr(float(cfg.daily_budget)), cfg.max_per_user_per_day, cfg.max_per_session,
            self.day_ttl_s, context.at().date().isoformat()])
        return cost if answer == "ok" else None

    @property
    def spent(self) -> dict[date, float]:
        """Budget reserved per UTC day, by every process (days whose counters have not expired)."""
        days = sorted(self._redis.smembers(f"{self.prefix}days"))
        if not days:
            return {}
        amounts = self._redis.mget([f"{self.prefix}spent:{day}" for day in days])
        return {date.fromisoformat(day): float(amount) for day, amount in zip(days, amounts, strict=True)
                if amount is not None}

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()


class RedisIssuedDecisions:
    """The ids of decisions issued by any process, each known for ``ttl_s`` seconds."""

    def __init__(self, url: str, prefix: str = "shopintent:events:", ttl_s: int = DECISION_TTL_S) -> None:
        if ttl_s < 1:
            raise ValueError(f"ttl_s must be >= 1 second, got {ttl_s}")
        self.prefix = prefix + "decisions:"
        self.ttl_s = ttl_s
        self._redis = _client(url)

    def add(self, decision_id: str) -> None:
        """Remember that ``decision_id`` was issued."""
        self._redis.set(self.prefix + decision_id, "1", ex=self.ttl_s)

    def __contains__(self, decision_id: object) -> bool:
        return isinstance(decision_id, str) and bool(self._redis.exists(self.prefix + decision_id))

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()
