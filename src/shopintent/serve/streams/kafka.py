"""Kafka as the event log: a publish is durable once every in-sync replica has it.

One :class:`KafkaEventSource` is both ends of the log for one service process.
``publish`` produces one message per write group (value: ``encode_events``, a
JSON list of protected records; headers ``key_id`` and ``applied``; key: the
first event's ``user_id``, so a shopper's events stay in one partition and in
order) with ``acks=all`` and idempotence, and returns only after the broker's
delivery report: that report is the commit point of the events in it.

The consuming side is one member of a consumer group with auto-commit off.
``ack`` commits, synchronously, the offset after the highest message of each
partition below which every message read has been acknowledged, so a message
the caller has not stored yet is never skipped by a commit, whatever order
acknowledgements come in. When the group rebalances (a member died or joined),
the partitions taken away are forgotten: messages read from them but not yet
acknowledged are not committed and go, from the last committed offset, to the
partition's new owner. A message can therefore be delivered twice (here, and to
the new owner); the store's ``event_id`` key stores its events once.

Managed clusters need security settings the service does not know about:
``client_config`` (``security.protocol``, ``sasl.mechanism``, ``sasl.username``
...) is passed unchanged to the producer, the consumer and the admin client
(docs/kafka.md). Settings that carry the guarantees above (``acks``,
``enable.idempotence``, ``enable.auto.commit``, ...) cannot be overridden there.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from shopintent.log import get_logger
from shopintent.serve.streams.base import EventSource, StreamMessage, decode_events, encode_events

log = get_logger(__name__)

#: Header naming the pseudonym key of a protected message (absent: raw events).
KEY_HEADER = "key_id"
#: Header present (value ``b"1"``) when the publisher already applied the events' live effects.
APPLIED_HEADER = "applied"
#: Client settings the source sets itself: overriding them would break its guarantees.
RESERVED_SETTINGS = frozenset({
    "bootstrap.servers", "group.id", "acks", "request.required.acks", "enable.idempotence",
    "enable.auto.commit", "enable.auto.offset.store", "auto.offset.reset",
    "on_delivery", "on_commit",
})
#: Seconds each broker request of ``pending`` may take.
LAG_TIMEOUT_S = 2.0
#: librdkafka's "no committed offset" marker (OFFSET_INVALID).
_NO_OFFSET = -1001


class _ClientLog:
    """librdkafka's own log lines (connection refused, broker down, ...) as structured log events.

    Without it the C library writes them straight to stderr; confluent-kafka calls
    ``log(level, fmt, *args)`` with a :mod:`logging` level while the client is polled.
    """

    #: The same line again within this many seconds is counted, not logged (a broker that is
    #: down makes librdkafka repeat "Connection refused" for every connection it retries).
    REPEAT_S = 10.0

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, fmt: str, *args: object) -> None:
        text = fmt % args if args else fmt
        # The key drops the varying parts ("after 0ms", the handle's counter) of a repeated line.
        key = re.sub(r"\d+", "#", text)
        now = time.monotonic()
        if now - self._last.get(key, -self.REPEAT_S) < self.REPEAT_S:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        repeated = self._suppressed.pop(key, 0)
        if repeated:
            text = f"{text} (and {repeated} times like it since the last such line)"
        if level >= logging.ERROR:
            log.error("kafka client", detail=text)
        elif level >= logging.WARNING:
            log.warning("kafka client", detail=text)
        elif level >= logging.INFO:
            log.info("kafka client", detail=text)


class KafkaPublishError(RuntimeError):
    """The broker did not confirm a message: its events are not in the log."""


def topic_for(stream_name: str) -> str:
    """The Kafka topic of a stream name (``shopintent:events`` → ``shopintent.events``).

    Kafka topic names allow only ``[a-zA-Z0-9._-]``; the stream names the other
    backends use separate parts with ``:``.
    """
    return stream_name.replace(":", ".")


def _check_client_config(client_config: Mapping[str, Any] | None) -> dict[str, Any]:
    config = dict(client_config or {})
    reserved = sorted(set(config) & RESERVED_SETTINGS)
    if reserved:
        raise ValueError(f"client_config may not set {', '.join(reserved)}: the Kafka event source "
                         "sets them itself (acks=all, idempotence, manual commits after storing)")
    return config


class KafkaEventSource(EventSource):
    """Producer and group consumer of ``topic`` at ``bootstrap`` (``HOST:PORT[,HOST:PORT...]``).

    ``consumer`` names this member (``client.id``; default host and process id).
    ``session_timeout_ms`` is how long the group waits for a silent member before
    giving its partitions to the others (a killed sink is replaced after about
    that long; ``session.timeout.ms`` in ``client_config`` wins over it).
    ``partitions`` and ``replication_factor`` apply only when the topic does not
    exist yet and is created here; a replication factor of -1 is the cluster's
    ``default.replication.factor``. ``delivery_timeout_s`` bounds how long
    ``publish`` waits for the broker's confirmation, ``connect_timeout_s`` how long
    the constructor waits for the cluster to answer at all.
    """

    backend = "kafka"

    def __init__(self, bootstrap: str, topic: str = "shopintent.events",
                 group: str = "shopintent-ingest", consumer: str | None = None, *,
                 session_timeout_ms: int = 6000, client_config: Mapping[str, Any] | None = None,
                 partitions: int = 3, replication_factor: int = -1,
                 delivery_timeout_s: float = 30.0, max_message_bytes: int = 900_000,
                 connect_timeout_s: float = 15.0) -> None:
        if not bootstrap or not bootstrap.strip():
            raise ValueError("kafka bootstrap is empty: give HOST:PORT of one or more brokers")
        if partitions < 1:
            raise ValueError(f"kafka partitions {partitions} must be at least 1")
        if replication_factor < 1 and replication_factor != -1:
            raise ValueError(f"kafka replication_factor {replication_factor} must be at least 1, "
                             "or -1 for the cluster's default")
        self.bootstrap = bootstrap.strip()
        self.topic = topic
        self.group = group
        self.consumer_name = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.delivery_timeout_s = delivery_timeout_s
        self.max_message_bytes = max_message_bytes
        self.client_config = _check_client_config(client_config)
        if "session.timeout.ms" in self.client_config:
            session_timeout_ms = int(self.client_config.pop("session.timeout.ms"))
        if session_timeout_ms < 100:
            raise ValueError(f"kafka session_timeout_ms {session_timeout_ms} is below 100 ms")
        self.session_timeout_ms = session_timeout_ms
        common = {"bootstrap.servers": self.bootstrap, "client.id": self.consumer_name,
                  "logger": _ClientLog(), **self.client_config}
        self._common = common
        self._ensure_topic(connect_timeout_s)
        self._producer = Producer({
            **common, "acks": "all", "enable.idempotence": True, "linger.ms": 0,
            "message.timeout.ms": int(delivery_timeout_s * 1000),
        })
        # Joined on first read: a publish-only HTTP worker never joins the group.
        self._consumer: Consumer | None = None
        self._lag_client: Consumer | None = None
        self._lock = threading.RLock()
        # Per assigned partition: offsets read and not yet acknowledged, and the offset after the
        # last one read. What may be committed is the lowest outstanding offset (or that next one).
        self._outstanding: dict[int, set[int]] = {}
        self._next: dict[int, int] = {}
        self._committed: dict[int, int] = {}

    # -- topic ------------------------------------------------------------------------------

    def _ensure_topic(self, timeout_s: float = 15.0) -> None:
        """Create the topic unless it exists (a managed cluster may forbid that: it must exist)."""
        admin = AdminClient(self._common)
        try:
            metadata = admin.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            raise ConnectionError(f"no Kafka broker answered at {self.bootstrap} within "
                                  f"{timeout_s:g} s: {exc}") from exc
        if self.topic in metadata.topics and metadata.topics[self.topic].error is None:
            return
        future = admin.create_topics(
            [NewTopic(self.topic, self.partitions, self.replication_factor)],
            operation_timeout=timeout_s)[self.topic]
        try:
            future.result(timeout=timeout_s)
            log.info("kafka topic created", topic=self.topic, partitions=self.partitions,
                     replication_factor=self.replication_factor, bootstrap=self.bootstrap)
        except KafkaException as exc:
            # TOPIC_ALREADY_EXISTS: another process created it in the meantime.
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"could not create Kafka topic {self.topic!r} at "
                                   f"{self.bootstrap}: {exc.args[0].str()}") from exc

    # -- producing --------------------------------------------------------------------------

    def _chunks(self, events: Sequence[Mapping[str, Any]]
                ) -> list[tuple[str, Sequence[Mapping[str, Any]]]]:
        """The message bodies of ``events``: one, or halves until each fits the size limit."""
        body = encode_events(events)
        if len(events) <= 1 or len(body.encode("utf-8")) <= self.max_message_bytes:
            return [(body, events)]
        half = len(events) // 2
        return self._chunks(events[:half]) + self._chunks(events[half:])

    def publish(self, events: Sequence[Mapping[str, Any]], key_id: str | None = None,
                applied: bool = False) -> str:
        """Produce ``events``, wait for the broker to confirm; return ``topic:partition:offset``.

        One message per call; a group too big for one message (``max_message_bytes``)
        is split into several, produced together, and their ids are joined by ``,``.
        Raises :class:`KafkaPublishError` when the broker refuses a message and
        ``TimeoutError`` when it does not confirm in time: in both cases the caller
        must not acknowledge the events (one may still reach the log later, a
        duplicate the store absorbs).
        """
        headers = [] if key_id is None else [(KEY_HEADER, key_id.encode("utf-8"))]
        if applied:
            headers.append((APPLIED_HEADER, b"1"))
        reports: list[tuple[KafkaError | None, Message]] = []
        chunks = self._chunks(events)
        for body, part in chunks:
            user = part[0].get("user_id") if part else None
            key = None if user is None else str(user).encode("utf-8")
            self._produce(body.encode("utf-8"), key, headers, reports)
        deadline = time.monotonic() + self.delivery_timeout_s + 5.0
        while len(reports) < len(chunks):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"Kafka at {self.bootstrap} did not confirm {len(chunks) - len(reports)} "
                    f"message(s) to topic {self.topic!r} within {self.delivery_timeout_s:g} s")
            self._producer.flush(min(remaining, 1.0))
        ids = []
        for error, message in reports:
            if error is not None:
                raise KafkaPublishError(f"Kafka refused a message to topic {self.topic!r} at "
                                        f"{self.bootstrap}: {error.str()}")
            ids.append(f"{message.topic()}:{message.partition()}:{message.offset()}")
        return ",".join(ids)

    def _produce(self, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]],
                 reports: list[tuple[KafkaError | None, Message]]) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key, headers=headers,
                                       on_delivery=lambda err, msg: reports.append((err, msg)))
                return
            except BufferError:  # the local queue is full: let it drain, then retry
                self._producer.poll(0.1)

    # -- consuming --------------------------------------------------------------------------

    def _member(self) -> Consumer:
        """The group consumer, created and subscribed on first use."""
        if self._consumer is None:
            self._consumer = Consumer({
                **self._common, "group.id": self.group, "enable.auto.commit": False,
                "enable.auto.offset.store": False, "auto.offset.reset": "earliest",
                "session.timeout.ms": self.session_timeout_ms,
                "heartbeat.interval.ms": self.client_config.get(
                    "heartbeat.interval.ms", max(100, self.session_timeout_ms // 3)),
            })
            self._consumer.subscribe([self.topic], on_assign=self._on_assign,
                                     on_revoke=self._on_revoke, on_lost=self._on_revoke)
        return self._consumer

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("kafka partitions assigned", topic=self.topic, group=self.group,
                 consumer=self.consumer_name, partitions=sorted(p.partition for p in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Forget what was read from partitions taken away: their new owner reads it again."""
        with self._lock:
            dropped = 0
            for tp in partitions:
                dropped += len(self._outstanding.pop(tp.partition, ()))
                self._next.pop(tp.partition, None)
                self._committed.pop(tp.partition, None)
        log.info("kafka partitions revoked", topic=self.topic, group=self.group,
                 consumer=self.consumer_name, partitions=sorted(p.partition for p in partitions),
                 unacknowledged_dropped=dropped)

    @property
    def assigned_partitions(self) -> list[int]:
        """The partitions this member owns now (empty before its first join)."""
        if self._consumer is None:
            return []
        return sorted(tp.partition for tp in self._consumer.assignment() if tp.topic == self.topic)

    def read(self, max_messages: int, timeout_s: float) -> list[StreamMessage]:
        """Up to ``max_messages`` messages within ``timeout_s`` (the group join happens here)."""
        consumer = self._member()
        out = []
        for message in consumer.consume(num_messages=max_messages, timeout=timeout_s):
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("kafka consume error", topic=self.topic, error=error.str())
                continue
            out.append(self._to_message(message))
        return out

    def _to_message(self, message: Message) -> StreamMessage:
        partition, offset = message.partition(), message.offset()
        mid = f"{message.topic()}:{partition}:{offset}"
        with self._lock:
            self._outstanding.setdefault(partition, set()).add(offset)
            self._next[partition] = max(self._next.get(partition, 0), offset + 1)
        headers = dict(message.headers() or [])
        key_id = headers.get(KEY_HEADER)
        try:
            events = decode_events(message.value() or b"")
        except ValueError as exc:
            # A poison message would be redelivered forever: log it, and hand on no events.
            log.warning("stream message is not valid JSON events", message_id=mid, error=str(exc))
            events = []
        return StreamMessage(mid, events, None if key_id is None else key_id.decode("utf-8"),
                             headers.get(APPLIED_HEADER) == b"1")

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Commit, synchronously, past acknowledged messages with none unacknowledged below them.

        Call only after the messages' events are stored. Messages of partitions
        revoked since they were read are not committed (their new owner reads them again).
        """
        if not messages:
            return
        with self._lock:
            for message in messages:
                _, partition, offset = message.message_id.rsplit(":", 2)
                self._outstanding.get(int(partition), set()).discard(int(offset))
            offsets = []
            for partition, next_offset in self._next.items():
                outstanding = self._outstanding.get(partition)
                commit = min(outstanding) if outstanding else next_offset
                if commit > self._committed.get(partition, -1):
                    offsets.append(TopicPartition(self.topic, partition, commit))
            if not offsets:
                return
            self._member().commit(offsets=offsets, asynchronous=False)
            for tp in offsets:
                self._committed[tp.partition] = tp.offset

    def pending(self) -> int:
        """The group's lag: messages in the topic not yet committed, summed over its partitions.

        Best-effort, and over all partitions rather than only the assigned ones so
        that a member still joining does not report 0. Tansu's high watermark can
        be wrong after a batched produce: use this for monitoring, never to stop reading.
        """
        with self._lock:
            if self._lag_client is None:
                # A consumer of the group that never subscribes: it reads the group's committed
                # offsets without joining, so sampling lag from another thread never rebalances.
                self._lag_client = Consumer({**self._common, "group.id": self.group,
                                             "enable.auto.commit": False})
            consumer = self._lag_client
        # Short timeouts: /readyz and /metrics ask, and a broker that is away must not stall them.
        metadata = consumer.list_topics(self.topic, timeout=LAG_TIMEOUT_S)
        partitions = [TopicPartition(self.topic, p) for p in metadata.topics[self.topic].partitions]
        lag = 0
        for tp in consumer.committed(partitions, timeout=LAG_TIMEOUT_S):
            low, high = consumer.get_watermark_offsets(tp, timeout=LAG_TIMEOUT_S, cached=False)
            start = tp.offset if tp.offset != _NO_OFFSET else low
            lag += max(0, high - start)
        return lag

    def close(self) -> None:
        """Flush the producer and leave the group (its partitions move to the others at once)."""
        self._producer.flush(self.delivery_timeout_s)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._lag_client is not None:
            self._lag_client.close()
            self._lag_client = None
