"""Event logs and the store sink: Redis Streams consumer groups (real redis-server), the file log
(the default) and memory; only protected rows are published, acknowledged messages are deleted."""

from __future__ import annotations

import json
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

    def failing_sink(messages):  # type: ignore[no-untyped-def]
        calls.append([e for m in messages for e in m.events])
        raise RuntimeError("store down")

    consumer = StreamConsumer(source, failing_sink, poll_s=0.05)
    with pytest.raises(RuntimeError):
        consumer.run_once()
    assert source.pending() == 1 and consumer.acked == 0
    consumer.sink = lambda messages: calls.append([e for m in messages for e in m.events])
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
        # Raw producer messages went through the full ingest path, and are gone once stored.
        stored = service.gateway.call(lambda s: s.events()).result()
        assert stored["user_id"].str.fullmatch(r"u_[0-9a-f]{16}").all()
        assert redis.Redis.from_url(redis_url).xlen(stream) == 0


@pytest.mark.parametrize("stream", ["file", "memory"])
def test_mode_stream_is_stored_by_the_sink_with_its_live_effects(settings: Settings, stream: str) -> None:
    records = taobao_records(settings, 50)
    with make_client(settings, stream=stream) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        assert service.config.stream == stream
        response = client.post("/v1/events?mode=stream", json={"events": records}, headers=AUTH)
        assert response.status_code == 202 and response.json()["stream"] == stream
        _wait(lambda: service.consumer.acked >= 1)
        assert service.gateway.call(lambda s: s.count()).result() == 50
        # The publisher did not apply them (applied=False): the sink did, after storing.
        stats = client.get("/v1/dashboard", headers=AUTH).json()["events"]
        assert stats["stored"] == 50
        assert service.state.count_live() > 0
        again = client.post("/v1/events", json={"events": records[:10]}, headers=AUTH).json()
        assert again["duplicates"] == 10  # the sink claimed their ids


def test_acknowledged_messages_are_deleted_from_the_stream(redis_url: str) -> None:
    stream = f"t:{time.monotonic_ns()}"
    source = RedisStreamSource(redis_url, stream, "g", consumer="c")
    ids = [source.publish([{"n": i}]) for i in range(3)]
    got = source.read(10, 0.1)
    source.ack(got[:2])
    raw = redis.Redis.from_url(redis_url)
    assert [m[0].decode() for m in raw.xrange(stream)] == ids[2:]
    assert source.pending() == 1
    source.ack(got[2:])
    assert raw.xlen(stream) == 0 and source.pending() == 0


PII_EVENT = {
    "event_id": "jane-order-20240501-1", "user_id": "13800138000", "session_id": "web-jane-doe-7",
    "timestamp": "2024-05-01T09:00:00Z", "event_type": "search", "item_id": "jane.doe@example.com",
    "category_id": "c-13900139000", "query": "call me at 13800138000 or jane.doe@example.com",
}
RAW_VALUES = ["jane-order-20240501-1", "13800138000", "web-jane-doe-7", "jane.doe@example.com",
              "13900139000"]


def test_mode_stream_publishes_only_protected_rows_and_they_are_stored_as_published(
    settings: Settings, redis_url: str
) -> None:
    stream = f"svc:{time.monotonic_ns()}"
    raw = redis.Redis.from_url(redis_url)
    with make_client(settings, stream="redis", redis_url=redis_url, stream_name=stream) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        service.consumer.stop()  # hold the message in Redis to look at it
        view = {**PII_EVENT, "event_id": "jane-order-20240501-2", "event_type": "view", "query": None}
        body = client.post("/v1/events?mode=stream", json={"events": [PII_EVENT, view]},
                           headers=AUTH).json()
        assert (body["accepted"], body["rejected"]) == (2, 0)
        entries = raw.xrange(stream)
        assert [e[0].decode() for e in entries] == [body["message_id"]]
        fields = entries[0][1]
        assert fields[b"key_id"].decode() == service.pseudonymizer.key_id
        wire = b"".join(fields.values())
        for value in RAW_VALUES:
            assert value.encode() not in wire, value
        published = json.loads(fields[b"events"])
        assert [e["event_id"] for e in published] == [r["event_id"] for r in body["results"]]
        assert published[0]["query"] == "call me at [PHONE] or [EMAIL]"

        assert service.consumer.run_once() == 1  # the consumer stores them, not protecting twice
        stored = service.gateway.call(lambda s: s.events()).result()
        assert stored["event_id"].tolist() == [e["event_id"] for e in published]
        assert stored["user_id"].tolist() == [e["user_id"] for e in published]
        assert stored["item_id"].tolist() == ["[EMAIL]", "[EMAIL]"]
        assert raw.xlen(stream) == 0 and service.source.pending() == 0


def test_mode_stream_answers_invalid_events_like_sync_and_does_not_publish_them(
    settings: Settings, redis_url: str
) -> None:
    stream = f"svc:{time.monotonic_ns()}"
    raw = redis.Redis.from_url(redis_url)
    batch = [PII_EVENT, {**PII_EVENT, "event_type": "teleport"},
             {**PII_EVENT, "event_id": None, "timestamp": "not-a-date"}]
    with make_client(settings, stream="redis", redis_url=redis_url, stream_name=stream) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        service.consumer.stop()
        streamed = client.post("/v1/events?mode=stream", json={"events": batch}, headers=AUTH)
        assert streamed.status_code == 202
        body = streamed.json()
        assert (body["received"], body["accepted"], body["rejected"]) == (3, 1, 2)
        assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "rejected"]
        assert body["results"][2]["event_id"] is None
        assert len(json.loads(raw.xrange(stream)[0][1][b"events"])) == 1
        nothing = client.post("/v1/events?mode=stream", json={"events": batch[1:]}, headers=AUTH)
        assert nothing.json()["message_id"] is None and raw.xlen(stream) == 1
        service.consumer.run_once()
        synced = client.post("/v1/events", json={"events": batch}, headers=AUTH).json()
        assert [r["reasons"] for r in synced["results"]] == [r["reasons"] for r in body["results"]]
        assert [r["event_id"] for r in synced["results"]] == [r["event_id"] for r in body["results"]]
        assert synced["results"][0]["status"] == "duplicate"  # one id on both paths


def test_messages_protected_under_another_key_are_dropped_not_stored() -> None:
    source = MemorySource()
    source.publish([{"event_id": "e_" + "0" * 32}], key_id="another-key-id")
    source.publish([{"event_id": "e_" + "1" * 32}], key_id="my-key-id")
    source.publish([{"event_id": "raw-1"}])
    stored: list[object] = []
    consumer = StreamConsumer(source, lambda messages: stored.extend(
        (m.key_id, m.events) for m in messages), key_id="my-key-id")
    assert consumer.run_once() == 3
    assert stored == [("my-key-id", [{"event_id": "e_" + "1" * 32}]), (None, [{"event_id": "raw-1"}])]
    assert consumer.dropped == 1 and source.pending() == 0


def test_redis_is_reachable(redis_url: str) -> None:
    assert redis.Redis.from_url(redis_url).ping()
