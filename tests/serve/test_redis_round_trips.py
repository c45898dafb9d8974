"""Redis state in few round trips: one per write group for sessions, one for shopper histories.

Round trips are counted on the client (each request written and answered is one; a pipeline
is one), against the real redis-server of the ``redis_url`` fixture; the records must be the
ones the in-process backends hold after the same real Taobao events.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.connection import Connection

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.serve.state.base import LiveEvent, live_events
from shopintent.serve.state.history import MemoryShopperHistory, Observation, RedisShopperHistory
from shopintent.serve.state.memory import MemorySessionStore
from shopintent.serve.state.redis_state import RedisSessionStore
from shopintent.settings import Settings
from shopintent.store import EventStore


@contextmanager
def round_trips() -> Iterator[list[int]]:
    count = [0]
    original = Connection.send_packed_command

    def counted(self, command, check_health=True):  # type: ignore[no-untyped-def]
        count[0] += 1
        return original(self, command, check_health)

    Connection.send_packed_command = counted  # type: ignore[method-assign]
    try:
        yield count
    finally:
        Connection.send_packed_command = original  # type: ignore[method-assign]


def _taobao_live(settings: Settings, n: int) -> list[LiveEvent]:
    events = taobao.load(settings).events.sort_values("timestamp", kind="stable").head(n)
    events = events.assign(event_id=[f"tb-{i}" for i in range(len(events))])
    with EventStore() as store:
        store.append(events)
        return live_events(store.events())


def _groups(events: list[LiveEvent], size: int) -> Iterator[tuple[list[LiveEvent], list[Observation]]]:
    """Write groups of real events with their observations (the sessions an in-process state gives)."""
    sessions = MemorySessionStore(1800)
    for start in range(0, len(events), size):
        group = events[start : start + size]
        session_of = {e: t.state.session_id for t in sessions.apply(group) for e in t.event_ids}
        yield group, [(e.user_id, session_of[e.event_id], (e.event_type, e.ts, e.item_id, e.category_id))
                      for e in group]


def test_a_write_group_of_session_state_is_one_round_trip(settings: Settings, redis_url: str) -> None:
    events = _taobao_live(settings, 400)
    store = RedisSessionStore(redis_url, 1800, prefix=f"rt{time.monotonic_ns()}:")
    memory = MemorySessionStore(1800)
    store.apply(events[:1])  # loads the script once
    memory.apply(events[:1])
    with round_trips() as count:
        for start in range(1, len(events), 8):
            store.apply(events[start : start + 8])
            memory.apply(events[start : start + 8])
    assert count[0] == len(range(1, len(events), 8))
    # Redis lost its scripts (a restart): the next group loads it again and is folded once
    redis.Redis.from_url(redis_url).script_flush()
    extra = _taobao_live(settings, 420)[400:]
    store.apply(extra)
    memory.apply(extra)
    for state in memory.recent(100):
        assert store.get(state.session_id).to_dict() == state.to_dict()  # type: ignore[union-attr]


def test_shopper_histories_in_one_round_trip_and_two_workers_lose_nothing(settings: Settings,
                                                                          redis_url: str) -> None:
    events = _taobao_live(settings, 3000)
    prefix = f"hist{time.monotonic_ns()}:"
    worker_a, worker_b = RedisShopperHistory(redis_url, prefix), RedisShopperHistory(redis_url, prefix)
    memory = MemoryShopperHistory()
    groups = list(_groups(events, 8))
    for _, observations in groups[:1]:  # connects and loads the script
        worker_a.observe(observations, 0)
        memory.observe(observations, 0)
    with round_trips() as count:
        for _, observations in groups[1:150]:  # one worker: every group is one round trip
            worker_a.observe(observations, 0)
            memory.observe(observations, 0)
    assert count[0] == 149
    # two workers take turns: each one's remembered values go stale, the script says so, and the
    # group is recomputed from what Redis holds (no update lost, none applied twice)
    for i, (_, observations) in enumerate(groups[150:]):
        (worker_a if i % 2 else worker_b).observe(observations, i + 1)
        memory.observe(observations, i + 1)
    users = {e.user_id for e in events}
    assert len(users) > 300
    for user in users:
        assert worker_a.get(user).to_dict() == memory.get(user).to_dict()  # type: ignore[union-attr]
    assert worker_b.seq() == len(groups) - 150
