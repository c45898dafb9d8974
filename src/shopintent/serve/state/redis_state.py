"""Session state in Redis, shared by several stateless API workers.

Each event is folded by one Lua script run inside Redis, so two workers
updating the same session (or the same user's live session) cannot interleave
half-updates; a write group is sent as one pipeline of ``EVALSHA`` calls (one
round trip: the script is loaded once, and again only if Redis answers that it
lost it, instead of redis-py's ``SCRIPT EXISTS`` before every pipeline). The
script implements exactly :func:`shopintent.serve.state.base.fold` and the
gap rule of :class:`~shopintent.serve.state.memory.MemorySessionStore`; a
test feeds both the same real events and compares them.

Keys (under ``prefix``): ``session:<id>`` (JSON), ``user:<id>`` (current
derived session and its last time), ``active`` (sorted set by last time),
``clock`` (newest event time). Sessions expire ``ttl_s`` after their last write.
"""

from __future__ import annotations

import json

import redis
from redis.exceptions import NoScriptError

from shopintent.serve.state.base import (
    MAX_EVENTS,
    MAX_RECENT,
    LiveEvent,
    LiveSessionState,
    LiveSessionStore,
    Transition,
)

_FOLD = """
local prefix, user, given = ARGV[1], ARGV[2], ARGV[3]
local ts, etype, item, cat = tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local revenue, gap, max_recent, ttl = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local value, max_events = tonumber(ARGV[12]), tonumber(ARGV[13])
local sid = given
if sid == "" then
  local ukey = prefix .. "user:" .. user
  local cur = redis.call("HMGET", ukey, "sid", "last")
  if cur[1] and cur[2] and (ts - tonumber(cur[2])) <= gap then
    sid = cur[1]
    local ts_last = ts
    if tonumber(cur[2]) > ts then ts_last = tonumber(cur[2]) end
    redis.call("HSET", ukey, "sid", sid, "last", string.format("%.6f", ts_last))
  else
    sid = user .. "~" .. string.format("%d", math.floor(ts))
    redis.call("HSET", ukey, "sid", sid, "last", string.format("%.6f", ts))
  end
  redis.call("EXPIRE", ukey, ttl)
end
local skey = prefix .. "session:" .. sid
local raw = redis.call("GET", skey)
local s
if raw then s = cjson.decode(raw) else
  s = {session_id = sid, user_id = user, start = ts, last = ts, counts = {}, items = {}, categories = {},
       revenue = 0, cart_value = 0, events = {}}
end
if type(s.events) ~= "table" or s.events[1] == nil then s.events = {} end
s.cart_value = tonumber(s.cart_value_s or s.cart_value or 0)
if type(s.items) ~= "table" or s.items[1] == nil then s.items = {} end
if type(s.categories) ~= "table" or s.categories[1] == nil then s.categories = {} end
s.start = tonumber(s.start_s or s.start)
s.last = tonumber(s.last_s or s.last)
if ts < s.start then s.start = ts end
if ts > s.last then s.last = ts end
local seen = tonumber(s.counts[etype] or 0)
s.counts[etype] = seen + 1
if item ~= "" then
  table.insert(s.items, item)
  while #s.items > max_recent do table.remove(s.items, 1) end
end
if cat ~= "" then
  table.insert(s.categories, cat)
  while #s.categories > max_recent do table.remove(s.categories, 1) end
end
s.revenue = tonumber(s.revenue_s or s.revenue) + revenue
if etype == "add_to_cart" then s.cart_value = s.cart_value + value
elseif etype == "remove_from_cart" or etype == "purchase" then s.cart_value = math.max(s.cart_value - value, 0) end
local ev = {etype, string.format("%.6f", ts), item, cat}
if item == "" then ev[3] = cjson.null end
if cat == "" then ev[4] = cjson.null end
table.insert(s.events, ev)
while #s.events > max_events do table.remove(s.events, 1) end
s.cart_value_s = string.format("%.6f", s.cart_value)
s.start_s = string.format("%.6f", s.start)
s.last_s = string.format("%.6f", s.last)
s.revenue_s = string.format("%.6f", s.revenue)
local encoded = cjson.encode(s)
redis.call("SET", skey, encoded, "EX", ttl)
redis.call("ZADD", prefix .. "active", s.last, sid)
local clock = tonumber(redis.call("GET", prefix .. "clock") or "0")
if ts > clock then redis.call("SET", prefix .. "clock", string.format("%.6f", ts)) end
return {sid, seen, encoded}
"""


def _decode(raw: str | bytes) -> LiveSessionState:
    data = json.loads(raw)
    # cjson prints 14 significant digits; the exact values travel as strings.
    for key in ("start", "last", "revenue", "cart_value"):
        if f"{key}_s" in data:
            data[key] = float(data[f"{key}_s"])
    for event in data.get("events") or []:
        event[1] = float(event[1])
    return LiveSessionState.from_dict(data)


class RedisSessionStore(LiveSessionStore):
    """Sessions in Redis at ``url`` under ``prefix`` (several services may share one server)."""

    def __init__(self, url: str, gap_s: float, prefix: str = "shopintent:", ttl_s: int = 86_400 * 14,
                 client: redis.Redis | None = None) -> None:
        super().__init__(gap_s)
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.client = client or redis.Redis.from_url(url, socket_timeout=5.0)
        self._fold_sha: str | None = None

    def _fold_all(self, events: list[LiveEvent]) -> list[list[bytes]]:
        """Run the fold script for every event in one pipeline (loading the script when needed).

        An event whose call Redis answered ``NOSCRIPT`` (it restarted or flushed its scripts) did
        not run: those are sent again, in order, once the script is loaded.
        """
        results: list[object] = [None] * len(events)
        todo = list(range(len(events)))
        for attempt in range(2):
            if self._fold_sha is None:
                self._fold_sha = str(self.client.script_load(_FOLD))
            pipe = self.client.pipeline(transaction=False)
            for i in todo:
                e = events[i]
                pipe.evalsha(self._fold_sha, 0, self.prefix, e.user_id, e.session_id or "", repr(e.ts),
                             e.event_type, e.item_id or "", e.category_id or "", repr(e.revenue),
                             repr(self.gap_s), MAX_RECENT, self.ttl_s, repr(e.value), MAX_EVENTS)
            replies = pipe.execute(raise_on_error=False)
            missing = []
            for i, reply in zip(todo, replies, strict=True):
                if isinstance(reply, NoScriptError) and not attempt:
                    missing.append(i)
                elif isinstance(reply, Exception):
                    raise reply
                else:
                    results[i] = reply
            if not missing:
                return results  # type: ignore[return-value]
            self._fold_sha, todo = None, missing
        raise AssertionError("unreachable: a second NOSCRIPT is raised above")

    def apply(self, events: list[LiveEvent]) -> list[Transition]:
        if not events:
            return []
        results = self._fold_all(events)
        latest: dict[str, LiveSessionState] = {}
        new: dict[str, set[str]] = {}
        members: dict[str, list[str]] = {}
        for event, (sid, seen, encoded) in zip(events, results, strict=True):
            key = sid.decode() if isinstance(sid, bytes) else str(sid)
            latest[key] = _decode(encoded)
            members.setdefault(key, []).append(event.event_id)
            if int(seen) == 0:
                new.setdefault(key, set()).add(event.event_type)
            else:
                new.setdefault(key, set())
        return [Transition(latest[k], frozenset(new[k]), tuple(members[k])) for k in latest]

    def get(self, session_id: str) -> LiveSessionState | None:
        raw = self.client.get(self.prefix + "session:" + session_id)
        return _decode(raw) if raw else None

    def clock(self) -> float:
        raw = self.client.get(self.prefix + "clock")
        return float(raw) if raw else 0.0

    def recent(self, limit: int) -> list[LiveSessionState]:
        since = self.clock() - self.gap_s
        ids = self.client.zrevrangebyscore(self.prefix + "active", "+inf", since, start=0, num=limit)
        if not ids:
            return []
        raws = self.client.mget([self.prefix + "session:" + (i.decode() if isinstance(i, bytes) else i)
                                 for i in ids])
        return [_decode(r) for r in raws if r]

    def count_live(self) -> int:
        since = self.clock() - self.gap_s
        # Trim sessions that left the window long ago so the set stays small.
        self.client.zremrangebyscore(self.prefix + "active", "-inf", since - self.gap_s * 10)
        return int(self.client.zcount(self.prefix + "active", since, "+inf"))

    def close(self) -> None:
        self.client.close()
