"""Spark Structured Streaming reads the service's Kafka event log and finds the store's sessions.

Real services, started here: a Tansu broker (Kafka protocol, no JVM) and Spark
``local[2]``. A slice of the real Taobao log is protected exactly as the service
protects it (``prepare_records`` with a pseudonymizer), published to the topic in
the service's message format with ``acks=all`` (a few messages twice, as an
at-least-once log redelivers them), read by Spark through the ``shopintent-kafka``
Python data source and sessionised by a streaming session window. The sessions
must equal the DuckDB store's sessionisation of the same events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("confluent_kafka")

from pyspark.sql.streaming.datasource import ReadAllAvailable  # noqa: E402

from benchmarks.support.tansu import TansuBroker  # noqa: E402
from shopintent.datasets import taobao_userbehavior_head  # noqa: E402
from shopintent.privacy import Pseudonymizer  # noqa: E402
from shopintent.settings import Settings  # noqa: E402
from shopintent.store import EventStore, pipelines  # noqa: E402
from shopintent.store.ingest import ingest_protected, prepare_records  # noqa: E402
from shopintent.store.spark_stream import (  # noqa: E402
    KafkaEventStreamReader,
    KafkaPartitionRange,
    KafkaStreamOptions,
    collect_sessions,
    live_funnel,
    live_session_aggregates,
    read_event_stream,
)
from shopintent.serve.streams.base import encode_events  # noqa: E402

pytestmark = pytest.mark.spark

#: Events of the real log replayed through the broker (whole users but the last).
N_EVENTS = 4_000
#: Records per message, as one write group of the service would publish them.
PER_MESSAGE = 40
#: Messages published a second time (a redelivery the stream must absorb).
REPEATED = 5
TOPIC = "shopintent.events"


@pytest.fixture(scope="module")
def protected(session_settings: Settings) -> tuple[list[dict], str]:
    """The slice as the service would publish it: validated, pseudonymised, scrubbed records."""
    events = taobao_userbehavior_head.load(session_settings).events.head(N_EVENTS)
    pseudonymizer = Pseudonymizer.from_settings(session_settings)
    prepared = prepare_records(events, pseudonymizer, max_future_skew_s=None)
    assert not prepared.rejections
    return prepared.records, pseudonymizer.key_id


@pytest.fixture(scope="module")
def broker() -> Iterator[TansuBroker]:
    with TansuBroker() as running:
        yield running


def _publish(bootstrap: str, records: list[dict], key_id: str) -> int:
    """Produce the records in the service's format (acks=all); returns the messages sent."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)]).values():
        future.result(timeout=15)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5})
    failures: list[str] = []

    def report(error, message) -> None:  # type: ignore[no-untyped-def]
        if error is not None:
            failures.append(str(error))

    groups = [records[i:i + PER_MESSAGE] for i in range(0, len(records), PER_MESSAGE)]
    for group in [*groups, *groups[:REPEATED]]:
        producer.produce(TOPIC, value=encode_events(group).encode("utf-8"),
                         key=group[0]["user_id"].encode("utf-8"),
                         headers=[("key_id", key_id.encode("utf-8")), ("applied", b"1")],
                         on_delivery=report)
    assert producer.flush(30) == 0
    assert not failures
    return len(groups) + REPEATED


@pytest.fixture(scope="module")
def published(broker: TansuBroker, protected: tuple[list[dict], str]) -> int:
    records, key_id = protected
    return _publish(broker.bootstrap, records, key_id)


@pytest.fixture(scope="module")
def spark(spark_session):  # type: ignore[no-untyped-def]
    # The shared session (tests/conftest.py) starts its Python workers with this interpreter,
    # two shuffle partitions, and no empty trailing batch after availableNow's one.
    return spark_session


@pytest.fixture(scope="module")
def store_sessions(protected: tuple[list[dict], str], session_settings: Settings) -> pd.DataFrame:
    """The DuckDB store's sessions of the same protected records."""
    records, key_id = protected
    with EventStore() as store:
        report = ingest_protected(store, records, key_id, max_future_skew_s=None)
        assert report.appended == len(records)
        return store.session_aggregates(session_settings.session_gap_minutes)


def _run_available_now(sessions, name: str, tmp_path: Path, attempts: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Run the streaming query over what the topic holds now into the memory table ``name``.

    Spark gives a Python worker a fixed 10 s to connect back after it starts; on a host
    shared by many busy processes the planner's worker can miss it before any of our code
    runs. That failure, and only that, is retried with a fresh checkpoint.
    """
    from pyspark.errors import StreamingQueryException

    for attempt in range(1, attempts + 1):
        query = (sessions.writeStream.outputMode("complete").format("memory").queryName(name)
                 .option("checkpointLocation", str(tmp_path / f"checkpoint-{attempt}"))
                 .trigger(availableNow=True).start())
        try:
            if not query.awaitTermination(180):
                raise AssertionError(f"the streaming query {name} did not finish in time")
            return
        except StreamingQueryException as exc:
            if "failed to connect back" not in str(exc) or attempt == attempts:
                raise
        finally:
            query.stop()


def test_reader_finds_the_true_end_when_the_watermark_lags(broker: TansuBroker, published: int) -> None:
    """Tansu's high watermark after a batched produce is a batch's base offset + 1; the reader reads on."""
    from confluent_kafka import Consumer, TopicPartition

    reader = KafkaEventStreamReader(KafkaStreamOptions.parse({"bootstrap": broker.bootstrap, "topic": TOPIC}))
    try:
        start = reader.initialOffset()
        assert start == {"0": 0, "1": 0, "2": 0}
        end = reader.latestOffset(start, ReadAllAvailable())
    finally:
        reader.stop()
    assert sum(end.values()) == published
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "probe"})
    try:
        watermarks = [consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10, cached=False)[1]
                      for p in range(3)]
    finally:
        consumer.close()
    assert all(w <= end[str(p)] for p, w in enumerate(watermarks))
    ranges = reader.partitions(start, end)
    assert [(r.partition, r.start, r.end) for r in ranges] == [(p, 0, end[str(p)]) for p in range(3)
                                                              if end[str(p)] > 0]


def test_read_turns_a_partition_range_into_event_rows(broker: TansuBroker, published: int,
                                                     protected: tuple[list[dict], str]) -> None:
    """A task's read gives every event of its planned range, with the canonical columns and its origin."""
    records, key_id = protected
    reader = KafkaEventStreamReader(KafkaStreamOptions.parse({"bootstrap": broker.bootstrap, "topic": TOPIC}))
    try:
        end = reader.latestOffset(reader.initialOffset(), ReadAllAvailable())
    finally:
        reader.stop()
    tables = [pa.Table.from_batches(list(reader.read(r))) for r in reader.partitions({}, end)]
    rows = pa.concat_tables(tables).to_pandas()
    assert len(rows) == len(records) + REPEATED * PER_MESSAGE
    assert set(rows["key_id"]) == {key_id}
    assert rows["applied"].all()
    unique = rows.drop_duplicates("event_id").set_index("event_id").sort_index()
    expected = pd.DataFrame(records).set_index("event_id").sort_index()
    assert unique.index.equals(expected.index)
    assert (unique["user_id"] == expected["user_id"]).all()
    assert (unique["event_type"] == expected["event_type"]).all()
    assert (unique["timestamp"] == pd.to_datetime(expected["timestamp"], utc=True)).all()


def test_a_message_that_is_not_events_is_named_by_partition_and_offset(broker: TansuBroker) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    producer.produce("shopintent.bad", value=b'{"not": "a list"', partition=0)
    assert producer.flush(30) == 0
    reader = KafkaEventStreamReader(KafkaStreamOptions.parse({"bootstrap": broker.bootstrap,
                                                              "topic": "shopintent.bad"}))
    with pytest.raises(ValueError, match="partition 0 offset 0 is not JSON"):
        list(reader.read(KafkaPartitionRange(0, 0, 1)))


def test_streamed_sessions_equal_the_store_sessions(spark, broker: TansuBroker, published: int,  # type: ignore[no-untyped-def]
                                                    store_sessions: pd.DataFrame,
                                                    session_settings: Settings, tmp_path: Path) -> None:
    events = read_event_stream(spark, broker.bootstrap, TOPIC)
    sessions = live_session_aggregates(events, session_settings.session_gap_minutes, watermark="1 hour")
    _run_available_now(sessions, "live_sessions", tmp_path)
    streamed = collect_sessions(spark.table("live_sessions").toPandas())

    assert store_sessions["n_events"].sum() == N_EVENTS
    assert (len(store_sessions), store_sessions["user_id"].nunique()) == (667, 40)
    assert store_sessions["n_purchase"].sum() == 74
    pd.testing.assert_frame_equal(streamed, store_sessions, check_exact=False, rtol=1e-9, atol=1e-9)
    pd.testing.assert_frame_equal(live_funnel(spark.table("live_sessions").toPandas()),
                                  pipelines.funnel(store_sessions))


def test_an_event_exactly_one_gap_later_stays_in_the_session_as_in_the_store(spark) -> None:  # type: ignore[no-untyped-def]
    """The store splits after *more* than the gap, Spark's window before *reaching* it: both agree.

    One shopper: an event exactly one gap after the previous stays in its session,
    one a microsecond more starts the next; a repeated ``event_id`` counts once.
    """
    from shopintent.store.spark_stream import STREAM_SCHEMA

    gap = pd.Timedelta(minutes=30)
    t0 = pd.Timestamp("2017-11-25 08:00:00", tz="UTC")
    times = [t0, t0 + gap, t0 + 2 * gap + pd.Timedelta(microseconds=1), t0 + 3 * gap]
    rows = [(f"e_{i:016x}", "u_00000000000000aa", None, ts.to_pydatetime(), kind, "i1", "c1",
             None, None, None, "k", True, 0, i)
            for i, (ts, kind) in enumerate(zip(times, ["view", "add_to_cart", "view", "purchase"]))]
    rows.append(rows[1])  # redelivered
    streamed = collect_sessions(live_session_aggregates(
        spark.createDataFrame(rows, STREAM_SCHEMA), gap.total_seconds() / 60).toPandas())
    with EventStore() as store:
        frame = pd.DataFrame(rows, columns=STREAM_SCHEMA.names).iloc[:, :10]
        store.append(frame.astype({"timestamp": "datetime64[us, UTC]", "price": "float64",
                                   "quantity": "Int64"}))
        expected = store.session_aggregates(gap.total_seconds() / 60)
    assert list(streamed["n_events"]) == [2, 2]
    assert list(streamed["cart_abandoned"]) == [True, False]
    pd.testing.assert_frame_equal(streamed, expected)


def test_bad_options_name_the_option() -> None:
    with pytest.raises(ValueError, match="topic"):
        KafkaStreamOptions.parse({"bootstrap": "127.0.0.1:9092"})
    with pytest.raises(ValueError, match="startingOffsets"):
        KafkaStreamOptions.parse({"bootstrap": "127.0.0.1:9092", "topic": "t", "startingOffsets": "middle"})
