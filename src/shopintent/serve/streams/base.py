"""The consumer interface every event stream implements (in-process, Redis, Kafka)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StreamMessage:
    """One message of a stream: an opaque id (for ``ack``) and the events it carries.

    ``key_id`` is set when the events are rows the service already protected
    (pseudonyms, keyed ids, scrubbed text) under the pseudonym key of that id;
    ``None`` marks raw events from an outside producer, which the consumer sends
    through the full ingest path. ``applied`` is True when the publisher already
    folded the events into live state and decisions (``POST /v1/events``: the log
    is the commit point and the request applies the effects); the store sink then
    only stores them. False (outside producers, ``?mode=stream``): the sink stores
    them and applies their live effects.
    """

    message_id: str
    events: list[dict[str, Any]]
    key_id: str | None = None
    applied: bool = False


def encode_events(events: Sequence[Mapping[str, Any]]) -> str:
    """The wire form of a message body: a JSON list of events (protected or raw)."""
    return json.dumps(list(events), ensure_ascii=False, default=str)


def decode_events(payload: str | bytes) -> list[dict[str, Any]]:
    """A message body back to events; raises ``ValueError`` naming the problem."""
    data = json.loads(payload)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ValueError("a stream message must hold a JSON object or a list of objects (events)")
    return data


class EventSource(ABC):
    """Where events come from. At-least-once: a message not acknowledged is delivered again.

    ``read`` blocks up to ``timeout_s`` and returns at most ``max_messages``;
    ``ack`` marks messages as done (call it only after their events are stored);
    a source may then delete them. ``publish`` adds events: the service publishes
    protected rows with its ``key_id`` (:meth:`shopintent.serve.service.Service.publish`);
    outside producers and tests may publish raw events (no ``key_id``).
    """

    backend: str = "abstract"

    @abstractmethod
    def publish(self, events: Sequence[Mapping[str, Any]], key_id: str | None = None,
                applied: bool = False) -> str:
        """Append one message holding ``events`` (protected under ``key_id`` if given); returns its id.

        A durable backend returns only once the message is durable (the commit point of
        an event); ``applied`` as in :class:`StreamMessage`.
        """

    @abstractmethod
    def read(self, max_messages: int, timeout_s: float) -> list[StreamMessage]:
        """The next messages for this consumer (redeliveries of unacknowledged ones first)."""

    @abstractmethod
    def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Mark ``messages`` as processed."""

    def pending(self) -> int:
        """Messages delivered but not yet acknowledged (0 when the source cannot tell)."""
        return 0

    def close(self) -> None:
        """Release connections."""
