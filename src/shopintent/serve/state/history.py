"""Per-shopper history next to the live sessions, so live scores use the training features.

The behaviour models learned from rows that know the shopper's earlier
sessions (``prior_*`` features). This store keeps, per pseudonymous user, a
:class:`~shopintent.behaviour.shopper.ShopperRecord`: the history of closed
sessions and the events of the open one. The service feeds it every newly
stored event with the session the state backend put it in; scoring a session
replays the open events over that history, which is exactly the row the
training replay builds.

Two backends, as for session state: in-process (a dict) and Redis (one JSON
value per shopper, written by a compare-and-set script so several workers
sharing the server cannot lose an update: each shopper's write names the
SHA-1 of the value it was computed from, and nothing is written unless every
one still matches). The Redis backend remembers the values it last wrote, so a
write group is normally ONE round trip (no read first); a shopper another
worker changed meanwhile costs one more (the script hands back the current
values, the group is recomputed from them). Both remember the highest store ``seq`` they
have folded in, so a service that starts on a store it has not seen rebuilds
the records from the store (:meth:`ShopperHistoryStore.replace`) and a restart
changes no score.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from shopintent.behaviour.shopper import OpenEvent, ShopperRecord
from shopintent.log import get_logger

log = get_logger(__name__)

#: One event to fold in: (pseudonymous user, live session id, event).
Observation = tuple[str, str, OpenEvent]


class ShopperHistoryStore(ABC):
    """Shopper records by user id. Implementations are safe to call from several threads."""

    @abstractmethod
    def observe(self, observations: Sequence[Observation], seq: int) -> None:
        """Fold time-ordered events in; ``seq`` is the store's highest seq they include."""

    @abstractmethod
    def get(self, user_id: str) -> ShopperRecord | None:
        """The shopper's record (None for a shopper never seen)."""

    @abstractmethod
    def replace(self, records: dict[str, ShopperRecord], seq: int) -> None:
        """Drop everything and hold ``records``, built from the store up to ``seq``."""

    @abstractmethod
    def seq(self) -> int:
        """The highest store seq folded in (0 when empty)."""

    def close(self) -> None:
        """Release connections (nothing to do in-process)."""


def _group(observations: Iterable[Observation]) -> dict[str, list[tuple[str, OpenEvent]]]:
    by_user: dict[str, list[tuple[str, OpenEvent]]] = {}
    for user, session, event in observations:
        by_user.setdefault(user, []).append((session, event))
    return by_user


class MemoryShopperHistory(ShopperHistoryStore):
    """Shopper records of one process."""

    def __init__(self) -> None:
        self._records: dict[str, ShopperRecord] = {}
        self._seq = 0
        self._lock = threading.Lock()

    def observe(self, observations: Sequence[Observation], seq: int) -> None:
        with self._lock:
            for user, session, event in observations:
                record = self._records.get(user)
                if record is None:
                    record = self._records[user] = ShopperRecord()
                record.add(session, event)
            self._seq = max(self._seq, seq)

    def get(self, user_id: str) -> ShopperRecord | None:
        with self._lock:
            record = self._records.get(user_id)
            # A copy: the caller replays it outside the lock while events keep arriving.
            return None if record is None else ShopperRecord.from_dict(record.to_dict())

    def replace(self, records: dict[str, ShopperRecord], seq: int) -> None:
        with self._lock:
            self._records = dict(records)
            self._seq = seq

    def seq(self) -> int:
        return self._seq


class NoShopperHistory(ShopperHistoryStore):
    """Keeps nothing: every session is scored as a shopper's first (``--no-shopper-history``).

    Not for production: the scores then use features the models were not
    trained on. It exists so the benchmark can measure what history costs.
    """

    def observe(self, observations: Sequence[Observation], seq: int) -> None:
        return None

    def get(self, user_id: str) -> ShopperRecord | None:
        return None

    def replace(self, records: dict[str, ShopperRecord], seq: int) -> None:
        return None

    def seq(self) -> int:
        return 2**62  # never behind the store: nothing to restore


#: Compare-and-set of a write group's shopper records. KEYS: the shoppers' keys, then the seq
#: set. ARGV: the group's seq, then per shopper the SHA-1 of the value the new one was computed
#: from ("" = the shopper had no record) and the new value. Returns {1} once written, else
#: {0, current value or false per shopper} and writes nothing.
_CAS = """
local n = #KEYS - 1
local stale = false
local current = {}
for i = 1, n do
  local cur = redis.call("GET", KEYS[i])
  current[i] = cur
  local want = ARGV[2 * i]
  if cur then
    if redis.sha1hex(cur) ~= want then stale = true end
  elseif want ~= "" then
    stale = true
  end
end
if stale then
  local out = {0}
  for i = 1, n do out[i + 1] = current[i] end
  return out
end
for i = 1, n do redis.call("SET", KEYS[i], ARGV[2 * i + 1]) end
redis.call("ZADD", KEYS[n + 1], "GT", ARGV[1], "seq")
return {1}
"""


def _sha1(raw: bytes | None) -> str:
    return "" if raw is None else hashlib.sha1(raw, usedforsecurity=False).hexdigest()


class RedisShopperHistory(ShopperHistoryStore):
    """Shopper records in Redis under ``prefix`` (``shopper:<user>`` JSON, ``shopper_seq``).

    ``cache_size`` shoppers' last written values are kept in this process (least recently
    written dropped first): what a write group is computed from without reading Redis.
    """

    def __init__(self, url: str, prefix: str = "shopintent:", client: object | None = None,
                 max_retries: int = 50, cache_size: int = 20_000) -> None:
        import redis

        self.prefix = prefix
        self.client = client or redis.Redis.from_url(url, socket_timeout=5.0)
        self.max_retries = max_retries
        self.cache_size = cache_size
        self._cas = self.client.register_script(_CAS)  # type: ignore[attr-defined]
        self._known: OrderedDict[str, bytes | None] = OrderedDict()  # user -> value last seen
        self._lock = threading.Lock()

    def _key(self, user: str) -> str:
        return f"{self.prefix}shopper:{user}"

    def observe(self, observations: Sequence[Observation], seq: int) -> None:
        by_user = _group(observations)
        if not by_user:
            self.client.zadd(f"{self.prefix}shopper_seq", {"seq": seq}, gt=True)  # type: ignore[attr-defined]
            return
        users = list(by_user)
        keys = [self._key(u) for u in users] + [f"{self.prefix}shopper_seq"]
        with self._lock:
            # a shopper this process never wrote is taken to have no record: right for a new
            # shopper, and a conflict (one more round trip) for one another worker wrote
            bases = [self._known.get(u) for u in users]
        for _ in range(self.max_retries):
            args: list[object] = [seq]
            new = []
            for user, base in zip(users, bases, strict=True):
                record = ShopperRecord.from_dict(json.loads(base)) if base is not None else ShopperRecord()
                for session, event in by_user[user]:
                    record.add(session, event)
                raw = json.dumps(record.to_dict()).encode()
                new.append(raw)
                args += [_sha1(base), raw]
            reply = self._cas(keys=keys, args=args)
            if int(reply[0]) == 1:
                self._remember(users, new)
                return
            bases = [None if v is None else bytes(v) for v in reply[1:]]  # changed meanwhile: again
        raise RuntimeError(f"shopper history: {self.max_retries} conflicting writers in a row")

    def _remember(self, users: list[str], values: list[bytes]) -> None:
        with self._lock:
            for user, raw in zip(users, values, strict=True):
                self._known[user] = raw
                self._known.move_to_end(user)
            while len(self._known) > self.cache_size:
                self._known.popitem(last=False)

    def get(self, user_id: str) -> ShopperRecord | None:
        raw = self.client.get(self._key(user_id))  # type: ignore[attr-defined]
        return ShopperRecord.from_dict(json.loads(raw)) if raw else None

    def replace(self, records: dict[str, ShopperRecord], seq: int) -> None:
        client = self.client
        old = list(client.scan_iter(match=f"{self.prefix}shopper:*", count=1000))  # type: ignore[attr-defined]
        pipe = client.pipeline(transaction=True)  # type: ignore[attr-defined]
        if old:
            pipe.delete(*old)
        pipe.delete(f"{self.prefix}shopper_seq")
        for user, record in records.items():
            pipe.set(self._key(user), json.dumps(record.to_dict()))
        pipe.zadd(f"{self.prefix}shopper_seq", {"seq": seq})
        pipe.execute()
        with self._lock:
            self._known.clear()  # every record may have changed
        log.info("shopper histories rebuilt", shoppers=len(records), seq=seq)

    def seq(self) -> int:
        score = self.client.zscore(f"{self.prefix}shopper_seq", "seq")  # type: ignore[attr-defined]
        return int(score) if score is not None else 0

    def close(self) -> None:
        self.client.close()  # type: ignore[attr-defined]
