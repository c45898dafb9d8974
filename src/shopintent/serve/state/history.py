"""Per-shopper history next to the live sessions, so live scores use the training features.

The behaviour models learned from rows that know the shopper's earlier
sessions (``prior_*`` features). This store keeps, per pseudonymous user, a
:class:`~shopintent.behaviour.shopper.ShopperRecord`: the history of closed
sessions and the events of the open one. The service feeds it every newly
stored event with the session the state backend put it in; scoring a session
replays the open events over that history, which is exactly the row the
training replay builds.

Two backends, as for session state: in-process (a dict) and Redis (one JSON
value per shopper, updated under ``WATCH`` so several workers sharing the
server cannot lose an update). Both remember the highest store ``seq`` they
have folded in, so a service that starts on a store it has not seen rebuilds
the records from the store (:meth:`ShopperHistoryStore.replace`) and a restart
changes no score.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
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


class RedisShopperHistory(ShopperHistoryStore):
    """Shopper records in Redis under ``prefix`` (``shopper:<user>`` JSON, ``shopper_seq``)."""

    def __init__(self, url: str, prefix: str = "shopintent:", client: object | None = None,
                 max_retries: int = 50) -> None:
        import redis

        self.prefix = prefix
        self.client = client or redis.Redis.from_url(url, socket_timeout=5.0)
        self.max_retries = max_retries
        self._watch_error = redis.WatchError

    def _key(self, user: str) -> str:
        return f"{self.prefix}shopper:{user}"

    def observe(self, observations: Sequence[Observation], seq: int) -> None:
        by_user = _group(observations)
        keys = [self._key(u) for u in by_user]
        for _ in range(self.max_retries):
            with self.client.pipeline(transaction=True) as pipe:  # type: ignore[attr-defined]
                try:
                    if keys:
                        pipe.watch(*keys)
                        raws = pipe.mget(keys)
                    else:
                        raws = []
                    pipe.multi()
                    for (user, events), raw in zip(by_user.items(), raws, strict=True):
                        record = ShopperRecord.from_dict(json.loads(raw)) if raw else ShopperRecord()
                        for session, event in events:
                            record.add(session, event)
                        pipe.set(self._key(user), json.dumps(record.to_dict()))
                    self._max_seq(pipe, seq)
                    pipe.execute()
                    return
                except self._watch_error:
                    continue  # another worker changed one of these shoppers: read again
        raise RuntimeError(f"shopper history: {self.max_retries} conflicting writers in a row")

    def _max_seq(self, pipe: object, seq: int) -> None:
        # Monotonic max without a read: a sorted set keeps the largest seq as its top score.
        pipe.zadd(f"{self.prefix}shopper_seq", {"seq": seq}, gt=True)  # type: ignore[attr-defined]

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
        log.info("shopper histories rebuilt", shoppers=len(records), seq=seq)

    def seq(self) -> int:
        score = self.client.zscore(f"{self.prefix}shopper_seq", "seq")  # type: ignore[attr-defined]
        return int(score) if score is not None else 0

    def close(self) -> None:
        self.client.close()  # type: ignore[attr-defined]
