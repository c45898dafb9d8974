"""Streams into the one ingest path: Redis Streams consumer groups (real redis-server) and memory."""

from __future__ import annotations

import time

import pytest
import redis

from shopintent.serve.streams.consumer import StreamConsumer
from shopintent.serve.streams.memory import MemorySource
from shopintent.serve.streams.redis_streams import RedisStreamSource
from shopintent.settings import Settings
from tests.serve.conftest import AUTH, make_client, taobao_records


def _wait(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_unacknowledged_messages_are_redelivered_to_the_same_consumer(redis_url: str) -> None:
    stream = f"t:{time.monotonic_ns()}"
    source = RedisStreamSource(redis_url, stream, "g", consumer="c1")
    ids = [source.publish([{"event_id": str(i)}]) for i in range(3)]
    first = source.read(10, 0.1)
    assert [m.message_id for m in first] == ids and first[0].events == [{"event_id": "0"}]
    source.ack(first[:1])
    # A restart of consumer c1 (crash before ack) gets its pending messages again first.
    restarted = RedisStreamSource(redis_url, stream, "g", consumer="c1")
    again = restarted.read(10, 0.1)
    assert [m.message_id for m in again] == ids[1:]
    assert restarted.pending() == 2
    restarted.ack(again)
    assert restarted.pending() == 0 and restarted.read(10, 0.1) == []


def test_messages_of_a_dead_consumer_are_claimed_by_another(redis_url: str) -> None:
    stream = f"t:{time.monotonic_ns()}"
    dead = RedisStreamSource(redis_url, stream, "g", consumer="dead")
    dead.publish([{"event_id": "x"}])
    assert len(dead.read(10, 0.1)) == 1  # delivered, never acknowledged
    alive = RedisStreamSource(redis_url, stream, "g", consumer="alive", claim_idle_ms=50)
    time.sleep(0.1)
    claimed = alive.read(10, 0.1)
    assert [m.events for m in claimed] == [[{"event_id": "x"}]]
    alive.ack(claimed)
    assert alive.pending() == 0


def test_consumer_acknowledges_only_after_the_sink_succeeds(redis_url: str) -> None:
    stream = f"t:{time.monotonic_ns()}"
    source = RedisStreamSource(redis_url, stream, "g", consumer="c")
    source.publish([{"event_id": "1"}])
    calls = []

    def failing_sink(events):  # type: ignore[no-untyped-def]
        calls.append(events)
        raise RuntimeError("store down")

    consumer = StreamConsumer(source, failing_sink, poll_s=0.05)
    with pytest.raises(RuntimeError):
        consumer.run_once()
    assert source.pending() == 1 and consumer.acked == 0
    consumer.sink = lambda events: calls.append(events)
    redelivered = RedisStreamSource(redis_url, stream, "g", consumer="c")
    consumer.source = redelivered
    assert consumer.run_once() == 1
    assert calls == [[{"event_id": "1"}], [{"event_id": "1"}]]
    assert redelivered.pending() == 0


def test_memory_source_delivers_in_order() -> None:
    source = MemorySource()
    for i in range(5):
        source.publish([{"n": i}])
    got = source.read(3, 0.1) + source.read(10, 0.1)
    assert [m.events[0]["n"] for m in got] == [0, 1, 2, 3, 4]
    source.ack(got)
    assert source.pending() == 0 and source.read(1, 0.01) == []


def test_redis_stream_feeds_the_store_once_even_when_delivered_twice(
    settings: Settings, redis_url: str
) -> None:
    records = taobao_records(settings, 600)
    stream = f"svc:{time.monotonic_ns()}"
    with make_client(settings, stream="redis", redis_url=redis_url, stream_name=stream) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        producer = RedisStreamSource(redis_url, stream, "producer-only-group", consumer="p")
        for start in range(0, 600, 100):
            producer.publish(records[start : start + 100])
        # At-least-once: the same events arrive again (a producer retry).
        producer.publish(records[:100])
        count = lambda: service.gateway.call(lambda s: s.count()).result()  # noqa: E731
        _wait(lambda: service.consumer.acked >= 7)
        assert count() == 600
        # mode=stream on the HTTP API goes through the same stream.
        response = client.post("/v1/events?mode=stream", json={"events": records[:5]}, headers=AUTH)
        assert response.status_code == 202 and response.json()["stream"] == "redis"
        _wait(lambda: service.consumer.acked >= 8)
        assert count() == 600
        assert service.source.pending() == 0
        stats = client.get("/v1/dashboard", headers=AUTH).json()["events"]
        assert stats["stored"] == 600 and stats["duplicates"] == 105
        metrics = client.get("/metrics", headers=AUTH).text
        assert 'shopintent_events_total{outcome="stored",source="stream"} 600.0' in metrics


def test_memory_stream_is_the_default(settings: Settings) -> None:
    records = taobao_records(settings, 50)
    with make_client(settings) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        response = client.post("/v1/events?mode=stream", json={"events": records}, headers=AUTH)
        assert response.status_code == 202 and response.json()["stream"] == "memory"
        _wait(lambda: service.consumer.acked >= 1)
        assert service.gateway.call(lambda s: s.count()).result() == 50


def test_redis_is_reachable(redis_url: str) -> None:
    assert redis.Redis.from_url(redis_url).ping()
