"""Redis Streams with a consumer group: at-least-once delivery, processed idempotently.

Producers ``XADD`` a message (a JSON list of events) to the stream. The service
itself publishes only *protected* rows (pseudonyms, keyed ids, scrubbed text)
with a ``key_id`` field naming the pseudonym key; a message without ``key_id``
holds raw events from an outside producer and is protected on consumption. Each
service instance is a consumer in one group: it first re-reads its own pending
messages (delivered before a crash, never acknowledged), claims messages
another consumer left pending for longer than ``claim_idle_ms`` (that consumer
died), then reads new ones. A message is acknowledged only after its events
are in the store; because ingest is idempotent on ``event_id``, a message
delivered twice stores its events once.

Acknowledged messages are deleted: ``XACK`` and ``XDEL`` of exactly those ids
in one ``MULTI`` transaction. Why not ``XTRIM MINID``: the trim point would have
to stay below both the oldest pending message of *every* consumer and the
group's last-delivered id, and any mistake there deletes events not yet stored;
``XDEL`` removes only what this consumer has just stored, whatever order
messages are acknowledged in (claims and redeliveries make that order
arbitrary). The stream is therefore owned by one consumer group: a second group
would not see messages the first has stored. ``MAXLEN`` stays as a bound for an
outage of every consumer.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from shopintent.log import get_logger
from shopintent.serve.streams.base import EventSource, StreamMessage, decode_events, encode_events

log = get_logger(__name__)
FIELD = "events"
#: The field naming the pseudonym key of a protected message (absent: raw events).
KEY_FIELD = "key_id"
#: Present (value "1") when the publisher already applied the events' live effects.
APPLIED_FIELD = "applied"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisStreamSource(EventSource):
    """One consumer of ``group`` on ``stream`` at the Redis server ``url``."""

    backend = "redis"

    def __init__(self, url: str, stream: str = "shopintent:events", group: str = "shopintent-ingest",
                 consumer: str | None = None, claim_idle_ms: int = 30_000,
                 maxlen: int | None = 1_000_000, client: redis.Redis | None = None) -> None:
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{id(self):x}"
        self.claim_idle_ms = claim_idle_ms
        self.maxlen = maxlen
        self.client = client or redis.Redis.from_url(url, socket_timeout=30.0)
        self._backlog = True  # re-read our own pending messages first
        try:
            self.client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def publish(self, events: Sequence[Mapping[str, Any]], key_id: str | None = None,
                applied: bool = False) -> str:
        kwargs: dict[str, Any] = {"maxlen": self.maxlen, "approximate": True} if self.maxlen else {}
        fields = {FIELD: encode_events(events)}
        if key_id is not None:
            fields[KEY_FIELD] = key_id
        if applied:
            fields[APPLIED_FIELD] = "1"
        return _text(self.client.xadd(self.stream, fields, **kwargs))

    def _messages(self, entries: list[Any]) -> list[StreamMessage]:
        out = []
        for message_id, fields in entries:
            if not fields:  # deleted from the stream (trimmed) while pending
                self.client.xack(self.stream, self.group, message_id)
                continue
            mid = _text(message_id)
            payload = fields.get(FIELD.encode()) or fields.get(FIELD)
            key_id = fields.get(KEY_FIELD.encode()) or fields.get(KEY_FIELD)
            applied = (fields.get(APPLIED_FIELD.encode()) or fields.get(APPLIED_FIELD)) is not None
            try:
                events = decode_events(payload) if payload is not None else []
            except ValueError as exc:
                # A poison message would be redelivered forever: log it, and hand on no events.
                log.warning("stream message is not valid JSON events", message_id=mid, error=str(exc))
                events = []
            out.append(StreamMessage(mid, events, None if key_id is None else _text(key_id), applied))
        return out

    def read(self, max_messages: int, timeout_s: float) -> list[StreamMessage]:
        if self._backlog:
            reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: "0"},
                                           count=max_messages)
            entries = reply[0][1] if reply else []
            if entries:
                return self._messages(entries)
            self._backlog = False
        claimed = self.client.xautoclaim(self.stream, self.group, self.consumer,
                                         min_idle_time=self.claim_idle_ms, start_id="0-0",
                                         count=max_messages)
        if claimed and claimed[1]:
            return self._messages(claimed[1])
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                       count=max_messages, block=max(1, int(timeout_s * 1000)))
        return self._messages(reply[0][1]) if reply else []

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Acknowledge ``messages`` and delete them from the stream (one transaction)."""
        if messages:
            ids = [m.message_id for m in messages]
            with self.client.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, *ids)
                pipe.xdel(self.stream, *ids)
                pipe.execute()

    def pending(self) -> int:
        info = self.client.xpending(self.stream, self.group)
        return int(info["pending"]) if info else 0

    def close(self) -> None:
        self.client.close()
