"""The consumer interface every event stream implements (in-process, Redis, Kafka)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StreamMessage:
    """One message of a stream: an opaque id (for ``ack``) and the events it carries."""

    message_id: str
    events: list[dict[str, Any]]


def encode_events(events: Sequence[Mapping[str, Any]]) -> str:
    """The wire form of a message body: a JSON list of raw events."""
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
    ``publish`` adds events (producers, tests and the replay use it).
    """

    backend: str = "abstract"

    @abstractmethod
    def publish(self, events: Sequence[Mapping[str, Any]]) -> str:
        """Append one message holding ``events``; returns its id."""

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
