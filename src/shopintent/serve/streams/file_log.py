"""A durable event log in a local folder: the commit point of a single-process service.

``POST /v1/events`` answers once its events are in the log; the store sink reads
the log behind the request and writes DuckDB. The log is append-only JSON lines
in segment files (``<first id, 20 digits>.jsonl``), one line per message::

    {"id": 17, "key_id": "k…", "applied": true, "events": [{…}, …]}

**Durability.** ``publish`` writes the whole line with one ``write`` call, so a
killed process (``kill -9``) loses nothing it acknowledged: the bytes are in the
operating system's page cache, which outlives the process. What the page cache
does not survive — an OS crash or a power loss — is covered by ``fsync``:
``fsync="always"`` syncs the segment before ``publish`` returns (one sync per
write group, since the gateway publishes a group as one message);
``"everysec"`` (the default) lets a background thread sync at most one second
later, so an OS crash or power loss can lose up to the last second of
acknowledged events — the trade-off Redis documents as ``appendfsync
everysec``.

**One consumer.** The store sink reads from the committed offset
(``offset.json``: the last acknowledged id and where the next message starts),
which moves only on :meth:`FileLogSource.ack` and is written atomically
(temporary file, ``fsync``, ``rename``, ``fsync`` of the folder). After a
restart the messages after it — read before the crash but not acknowledged —
are delivered again; the store absorbs them by ``event_id``. A ``read`` while
messages are still unacknowledged delivers them again too (the consumer failed
to store them). Segments whose messages are all acknowledged are deleted.

**Torn lines.** A crash in the middle of a write can leave the last line
incomplete. Opening the log finds it (bytes after the last newline, or a last
line that is not valid JSON), logs a warning and cuts it off: that message was
never acknowledged, because ``publish`` had not returned. A line in the middle
of a segment that does not parse (disk damage) is skipped with a warning at
read time, never half-parsed.

Only one process may open a log folder at a time (the multi-worker service
uses Redis Streams or Kafka instead); a second one is refused with an error
naming the folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopintent.log import get_logger
from shopintent.serve.streams.base import EventSource, StreamMessage

log = get_logger(__name__)

#: The ``fsync`` policies of :class:`FileLogSource`.
FSYNC_POLICIES = ("always", "everysec")
OFFSET_FILE = "offset.json"
LOCK_FILE = "log.lock"
SEGMENT_SUFFIX = ".jsonl"


def _segment_name(first_id: int) -> str:
    return f"{first_id:020d}{SEGMENT_SUFFIX}"


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class _Position:
    """Where a message ends: its id, the segment holding it and the byte after its line."""

    message_id: int
    segment: int
    end: int


class LogFolderBusy(RuntimeError):
    """Another process has the log folder open."""


class FileLogSource(EventSource):
    """An append-only, fsynced log of messages in ``folder``, read by one consumer.

    ``segment_bytes``: a new segment starts when the current one has reached this
    size. ``fsync``: ``"always"`` (sync before ``publish`` returns) or
    ``"everysec"`` (a background sync at most one second later).
    """

    backend = "file"

    def __init__(self, folder: Path | str, fsync: str = "everysec",
                 segment_bytes: int = 16 * 1024 * 1024) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync {fsync!r} is not one of {', '.join(FSYNC_POLICIES)}")
        if segment_bytes < 1:
            raise ValueError(f"segment_bytes {segment_bytes} must be positive")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self._lock_fd = self._lock_folder()
        self._lock = threading.Condition()
        self._closed = False
        self._closing = threading.Event()
        self._dirty = False
        self.torn_lines = 0
        self.skipped_lines = 0
        committed, segment, position = self._read_offset()
        self._committed = committed
        self._segments = self._recover()  # first ids of the segments, oldest first
        last = self._last_id
        # The offset may be ahead of the log after a power loss under "everysec" (stored
        # messages whose lines were not synced): never hand out an id the sink already stored.
        self._next_id = max(last, committed) + 1
        if not self._segments:
            self._segments.append(self._next_id)
        self._active = self._segments[-1]
        self._fd = os.open(self.folder / _segment_name(self._active),
                           os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._end = os.fstat(self._fd).st_size  # bytes of the active segment written so far
        # The reader's cursor starts after the committed offset.
        if segment not in self._segments:
            segment, position = self._segments[0], 0
        self._acked = _Position(committed, segment, position)
        self._cursor = (segment, position)
        self._delivered: deque[_Position] = deque()
        self._syncer: threading.Thread | None = None
        if fsync == "everysec":
            self._syncer = threading.Thread(target=self._sync_every_second, name="log-fsync",
                                            daemon=True)
            self._syncer.start()
        log.info("event log opened", folder=str(self.folder), fsync=fsync, committed=committed,
                 next_id=self._next_id, pending=self.pending())

    # -- opening ----------------------------------------------------------------------------
    def _lock_folder(self) -> int:
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LogFolderBusy(
                f"event log {self.folder} is open in another process; a file log has one "
                "writer (run several workers with --stream redis or kafka)") from None
        return fd

    def _read_offset(self) -> tuple[int, int, int]:
        path = self.folder / OFFSET_FILE
        if not path.exists():
            return 0, 0, 0
        try:
            data = json.loads(path.read_text("utf-8"))
            return int(data["id"]), int(data["segment"]), int(data["position"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a committed offset ({exc}); it is written atomically, "
                             "so this file was changed by hand: delete it to re-deliver the whole "
                             "log (the store absorbs duplicates)") from exc

    def _segment_size(self, first_id: int) -> int:
        path = self.folder / _segment_name(first_id)
        return path.stat().st_size if path.exists() else 0

    def _recover(self) -> list[int]:
        """The segments on disk, with a torn last line cut off; sets ``_last_id``."""
        segments = sorted(int(p.name[: -len(SEGMENT_SUFFIX)]) for p in self.folder.glob("*" + SEGMENT_SUFFIX)
                          if p.name[: -len(SEGMENT_SUFFIX)].isdigit())
        self._last_id = 0
        for first in reversed(segments):
            last = self._repair_tail(self.folder / _segment_name(first))
            if last is not None:
                self._last_id = last
                break
        return segments

    def _repair_tail(self, path: Path) -> int | None:
        """Cut a torn last line off ``path``; the id of its last whole message (None: empty)."""
        data = path.read_bytes()
        keep = len(data)
        last_id = None
        while keep:
            start = data.rfind(b"\n", 0, keep - 1) + 1
            line = data[start:keep]
            parsed = self._parse(line) if line.endswith(b"\n") else None
            if parsed is not None:
                last_id = parsed[0]
                break
            keep = start
        if keep < len(data):
            self.torn_lines += 1
            log.warning("torn line at the end of the event log cut off (a crash mid-write; "
                        "the message was never acknowledged)", segment=path.name,
                        bytes=len(data) - keep)
            with open(path, "r+b") as handle:
                handle.truncate(keep)
                os.fsync(handle.fileno())
        return last_id

    @staticmethod
    def _parse(line: bytes) -> tuple[int, StreamMessage] | None:
        try:
            data = json.loads(line)
            events = data["events"]
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                return None
            key_id = data.get("key_id")
            message = StreamMessage(str(int(data["id"])), events,
                                    None if key_id is None else str(key_id), bool(data.get("applied")))
            return int(data["id"]), message
        except (ValueError, KeyError, TypeError):
            return None

    # -- writing ------------------------------------------------------------------------------
    def publish(self, events: Sequence[Mapping[str, Any]], key_id: str | None = None,
                applied: bool = False) -> str:
        """Append one message; returns its id once it is written (and synced, with ``always``)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"event log {self.folder} is closed")
            message_id = self._next_id
            line = json.dumps({"id": message_id, "key_id": key_id, "applied": applied,
                               "events": list(events)}, ensure_ascii=False, default=str,
                              separators=(",", ":")).encode("utf-8") + b"\n"
            if self._end >= self.segment_bytes:
                self._roll(message_id)
            written = os.write(self._fd, line)
            while written < len(line):  # a regular file takes it whole; be safe anyway
                written += os.write(self._fd, line[written:])
            self._end += len(line)
            self._next_id += 1
            if self.fsync == "always":
                os.fsync(self._fd)
            else:
                self._dirty = True
            self._lock.notify_all()
        return str(message_id)

    def _roll(self, first_id: int) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._active = first_id
        self._segments.append(first_id)
        self._fd = os.open(self.folder / _segment_name(first_id),
                           os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._end = 0
        _fsync_folder(self.folder)

    def _sync_every_second(self) -> None:
        while not self._closing.wait(1.0):
            with self._lock:
                if self._closed:
                    return
                dirty, self._dirty = self._dirty, False
                fd = self._fd
            if dirty:
                try:
                    os.fsync(fd)
                except OSError as exc:  # a rolled segment's fd was closed (it was synced then)
                    log.debug("background fsync skipped", error=str(exc))

    def sync(self) -> None:
        """Sync what was written so far (what ``everysec`` does every second)."""
        with self._lock:
            os.fsync(self._fd)
            self._dirty = False

    # -- reading ------------------------------------------------------------------------------
    def read(self, max_messages: int, timeout_s: float) -> list[StreamMessage]:
        """Up to ``max_messages`` after the cursor; unacknowledged ones again first."""
        with self._lock:
            if self._delivered:  # read again before ack: the consumer failed to store them
                self._cursor = (self._acked.segment, self._acked.end)
                self._delivered.clear()
            if not self._has_more():
                self._lock.wait(timeout_s)
            segments = list(self._segments)
            active, end = self._active, self._end
        out: list[StreamMessage] = []
        segment, position = self._cursor
        while len(out) < max_messages:
            limit = end if segment == active else self._segment_size(segment)
            if position >= limit:
                later = [s for s in segments if s > segment]
                if not later:
                    break
                segment, position = later[0], 0
                continue
            position = self._read_segment(segment, position, limit, max_messages - len(out), out)
        self._cursor = (segment, position)
        return out

    def _has_more(self) -> bool:
        segment, position = self._cursor
        return segment != self._active or position < self._end

    def _read_segment(self, segment: int, position: int, limit: int, wanted: int,
                      out: list[StreamMessage]) -> int:
        """Parse whole lines of ``segment`` from ``position`` (below ``limit``) into ``out``."""
        with open(self.folder / _segment_name(segment), "rb") as handle:
            handle.seek(position)
            while wanted and position < limit:
                line = handle.readline(limit - position)
                if not line.endswith(b"\n"):  # only whole lines are below ``limit``
                    break
                position += len(line)
                parsed = self._parse(line)
                if parsed is None:
                    self.skipped_lines += 1
                    log.warning("unreadable line in the event log skipped", segment=segment,
                                position=position - len(line))
                    continue
                message_id, message = parsed
                if message_id <= self._acked.message_id:
                    continue  # stored before (an offset kept ahead of unsynced lines)
                out.append(message)
                self._delivered.append(_Position(message_id, segment, position))
                wanted -= 1
        return position

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Commit the offset past ``messages`` (read in order, acknowledged in order)."""
        if not messages:
            return
        done = {int(m.message_id) for m in messages}
        last = None
        while self._delivered and self._delivered[0].message_id in done:
            last = self._delivered.popleft()
        if last is None:
            return
        self._commit(last)

    def _commit(self, position: _Position) -> None:
        path = self.folder / OFFSET_FILE
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"id": position.message_id, "segment": position.segment,
                       "position": position.end}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_folder(self.folder)
        with self._lock:
            self._acked = position
            self._committed = position.message_id
            done = [s for s in self._segments if s < position.segment and s != self._active]
            self._segments = [s for s in self._segments if s not in done]
        for first in done:
            (self.folder / _segment_name(first)).unlink(missing_ok=True)

    def pending(self) -> int:
        """Messages in the log after the committed offset (written, not yet stored)."""
        with self._lock:
            return max(self._next_id - 1 - self._committed, 0)

    def committed(self) -> int:
        """The id of the last acknowledged message (0 before any)."""
        return self._committed

    def unacknowledged(self) -> list[StreamMessage]:
        """The messages after the committed offset, without moving the consumer's cursor.

        The service seeds its duplicate index with their event ids at start, so an event
        acknowledged just before a crash is answered ``duplicate`` before the sink stores it.
        """
        with self._lock:
            segments, active, end = list(self._segments), self._active, self._end
            acked = self._acked
        out: list[StreamMessage] = []
        for segment in (s for s in segments if s >= acked.segment):
            limit = end if segment == active else self._segment_size(segment)
            position = acked.end if segment == acked.segment else 0
            with open(self.folder / _segment_name(segment), "rb") as handle:
                handle.seek(position)
                while position < limit:
                    line = handle.readline(limit - position)
                    if not line.endswith(b"\n"):
                        break
                    position += len(line)
                    parsed = self._parse(line)
                    if parsed is not None and parsed[0] > acked.message_id:
                        out.append(parsed[1])
        return out

    def close(self) -> None:
        """Sync and close the active segment and release the folder."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._closing.set()
            self._lock.notify_all()
            os.fsync(self._fd)
            os.close(self._fd)
        if self._syncer is not None:
            self._syncer.join(timeout=5)
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
