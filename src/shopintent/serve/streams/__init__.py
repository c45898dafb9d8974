"""Event streams feeding the one ingest path: an in-process queue and Redis Streams.

Both implement :class:`EventSource`; :class:`StreamConsumer` reads a source,
hands each message's events to the writer and acknowledges the message only
after they are stored. A Kafka source implements the same four methods
(``read`` = poll, ``ack`` = commit offsets) and nothing else changes.
"""

from shopintent.serve.streams.base import EventSource, StreamMessage
from shopintent.serve.streams.consumer import StreamConsumer
from shopintent.serve.streams.memory import MemorySource

__all__ = ["EventSource", "MemorySource", "StreamConsumer", "StreamMessage"]
