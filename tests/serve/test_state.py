"""Session state: Redis (shared by workers) and in-process give the same sessions on real events."""

from __future__ import annotations

import time

import pandas as pd

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.serve.state.base import live_events
from shopintent.serve.state.memory import MemorySessionStore
from shopintent.serve.state.redis_state import RedisSessionStore
from shopintent.settings import Settings
from shopintent.store import EventStore


def _taobao_live(settings: Settings, n: int) -> list:  # type: ignore[type-arg]
    events = taobao.load(settings).events.sort_values("timestamp", kind="stable").head(n)
    events = events.assign(event_id=[f"tb-{i}" for i in range(len(events))])
    with EventStore() as store:
        store.append(events)
        stored = store.events()
    return live_events(stored)


def test_redis_and_memory_state_agree_on_real_taobao_events(settings: Settings, redis_url: str) -> None:
    events = _taobao_live(settings, 3000)
    gap = settings.session_gap_minutes * 60
    memory = MemorySessionStore(gap)
    shared = RedisSessionStore(redis_url, gap, prefix=f"state{time.monotonic_ns()}:")
    # Two "workers" write to Redis in turn; state must not depend on who wrote what.
    for start in range(0, len(events), 250):
        chunk = events[start : start + 250]
        memory.apply(chunk)
        shared.apply(chunk)
    assert shared.clock() == memory.clock() > 0
    recent_memory = memory.recent(50)
    recent_redis = shared.recent(50)
    assert [s.session_id for s in recent_redis] == [s.session_id for s in recent_memory]
    for a, b in zip(recent_memory, recent_redis, strict=True):
        assert a.to_dict() == b.to_dict()
    assert shared.count_live() == memory.count_live() > 10


def test_memory_sessions_match_the_store_sessionisation(settings: Settings) -> None:
    events = taobao.load(settings).events.sort_values("timestamp", kind="stable").head(5000)
    events = events.assign(event_id=[f"tb-{i}" for i in range(len(events))])
    with EventStore() as store:
        store.append(events)
        aggregates = store.session_aggregates(settings.session_gap_minutes)
        live = live_events(store.events())
    memory = MemorySessionStore(settings.session_gap_minutes * 60)
    transitions = memory.apply(live)
    sizes = sorted(t.state.n_events for t in transitions)
    # The live rule is the store's rule: the same number of sessions with the same sizes.
    assert sizes == sorted(aggregates["n_events"].tolist())
    assert sum(sizes) == 5000


def test_memory_state_is_bounded() -> None:
    memory = MemorySessionStore(1800, max_sessions=100)
    base = pd.Timestamp("2024-01-01", tz="UTC").timestamp()
    from shopintent.serve.state.base import LiveEvent

    memory.apply([LiveEvent(str(i), f"u{i}", None, base + i, "view", "x", None, 0.0, 0.0)
                  for i in range(250)])
    assert memory.count_live() <= 100
    assert memory.get(memory.recent(1)[0].session_id).user_id == "u249"


def test_memory_state_copies_are_the_redis_round_trip(settings: Settings) -> None:
    """The memory store hands out copies built field by field; they equal the to_dict/from_dict
    round trip the Redis backend makes (rounded money, counted types only), on real sessions."""
    from shopintent.serve.state.base import LiveSessionState

    store = MemorySessionStore(gap_s=30 * 60)
    transitions = store.apply(_taobao_live(settings, 3_000))
    assert len(transitions) > 50
    for t in transitions:
        assert t.state == LiveSessionState.from_dict(t.state.to_dict())
        assert store._copy(t.state) == LiveSessionState.from_dict(t.state.to_dict())
