"""Event logs, the commit point of the service: a local file log (the default), Redis Streams,
Kafka and an in-process queue (tests only).

Each implements :class:`EventSource` (``publish`` returns once the message is durable);
:class:`StreamConsumer`, the store sink, reads a log, stores each round of messages and
acknowledges them only after they are stored (Kafka: ``read`` = poll, ``ack`` = commit
offsets).
"""

from shopintent.serve.streams.base import EventSource, StreamMessage
from shopintent.serve.streams.consumer import StreamConsumer
from shopintent.serve.streams.memory import MemorySource

__all__ = ["EventSource", "MemorySource", "StreamConsumer", "StreamMessage"]
