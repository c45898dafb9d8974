"""The dedup index (serve/dedup.py): new ids claimed once within the horizon, in memory and Redis."""

from __future__ import annotations

import time

from shopintent.serve.dedup import MemorySeenIds, RedisSeenIds
from shopintent.settings import Settings
from tests.serve.conftest import taobao_records


def _ids(settings: Settings, n: int) -> list[str]:
    return [str(r["event_id"]) for r in taobao_records(settings, n)]


def test_memory_claims_each_id_once_within_the_horizon_and_forgets_it_after(settings: Settings) -> None:
    now = [1000.0]
    seen = MemorySeenIds(horizon_s=60, clock=lambda: now[0])
    ids = _ids(settings, 20)
    assert seen.claim(ids[:10] + ids[:2]) == [True] * 10 + [False, False]  # repeats in one claim too
    now[0] += 30
    assert seen.claim(ids[5:15]) == [False] * 5 + [True] * 5
    now[0] += 31  # the first ten are older than the horizon now; the next five are not
    assert seen.claim(ids[:15]) == [True] * 10 + [False] * 5
    assert len(seen) == 15


def test_memory_keeps_at_most_max_ids_forgetting_the_oldest(settings: Settings) -> None:
    seen = MemorySeenIds(horizon_s=3600, max_ids=100)
    ids = _ids(settings, 150)
    assert seen.seed(ids) == 150
    assert len(seen) == 100
    assert seen.claim(ids[:50]) == [True] * 50  # forgotten: the oldest went first
    assert seen.claim(ids[-10:]) == [False] * 10


def test_redis_claims_are_shared_by_two_clients_and_expire(settings: Settings, redis_url: str) -> None:
    prefix = f"dedup:{time.monotonic_ns()}:"
    one, two = RedisSeenIds(redis_url, 1, prefix=prefix), RedisSeenIds(redis_url, 1, prefix=prefix)
    ids = _ids(settings, 30)
    try:
        assert one.claim(ids[:20]) == [True] * 20
        assert two.claim(ids[10:30]) == [False] * 10 + [True] * 10  # another worker sees them
        assert one.claim([]) == []
        time.sleep(2.1)  # EX 1: gone after the horizon
        assert two.claim(ids[:3]) == [True] * 3
    finally:
        one.close()
        two.close()
