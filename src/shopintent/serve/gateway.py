"""The request path: an event is answered once it is in the durable event log, not in DuckDB.

``POST /v1/events`` hands its batch to :class:`IngestGateway`. Its log-writer
thread drains whatever is queued into one *write group* (group commit: many
small requests share one log append, one ``fsync`` / ``XADD`` / Kafka flush)
and runs it through the steps of issue 14's design:

1. :func:`shopintent.store.ingest.prepare_records` — validate, keyed ids,
   pseudonymise and scrub: the protected records the store will hold;
2. ``EventSource.publish(records, key_id, applied=True)`` — returns only once
   the message is durable: **the commit point** of every event in it;
3. :meth:`shopintent.serve.dedup.SeenIds.claim` — an id not seen before is
   ``stored`` (committed to the log), one seen before is ``duplicate``;
   publishing comes first, so a claimed id is always in the log;
4. on an effects thread, the live effects of the claimed events (session
   state, histories, signals, decisions), then each caller's future resolves
   with its statuses, sessions and decisions. Async callers (the HTTP route) are
   woken once per write group and event loop (one ``call_soon_threadsafe`` for
   every request of the group), not once per request: each cross-thread wake-up
   costs the loop a self-pipe read and a GIL hand-over.

The request path never waits for DuckDB. The store is a *sink* behind the log:
the service's :class:`~shopintent.serve.streams.consumer.StreamConsumer` reads
the log and stores each round through :meth:`IngestGateway.call` on the one
thread that owns the :class:`~shopintent.store.EventStore` (DuckDB wants one
writer), idempotently by ``event_id``, and only then acknowledges the
messages. :meth:`IngestGateway.note_stored` learns which messages the sink
stored, so a caller that asked for it (``?wait=store``) is answered only after
its message is in DuckDB (read-your-writes).

When this process owns the store, the writer also keeps the records it published
in memory until the sink takes them (:meth:`IngestGateway.take_published`): they
were validated and protected on the way in, so the sink appends them as they are
(:func:`shopintent.store.ingest.ingest_own_records`) instead of checking every row
of the log again. A message the sink reads that this process did not publish (or
no longer holds) is checked as before.

Answers name each event's keyed id (:mod:`shopintent.privacy.event_ids`), never
the client's raw id. A gateway built without a store path (``ServeConfig.sink``
false: a worker beside a separate sink process) never opens DuckDB.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from shopintent.log import get_logger
from shopintent.privacy import Pseudonymizer
from shopintent.schema.validation import DEFAULT_MAX_FUTURE_SKEW_S, Rejection
from shopintent.serve.dedup import SeenIds
from shopintent.serve.drain import drain_behind
from shopintent.serve.streams.base import EventSource
from shopintent.store import EventStore
from shopintent.store.ingest import prepare_records

log = get_logger(__name__)

STORED, DUPLICATE, REJECTED = "stored", "duplicate", "rejected"
#: ``mode=stream``: valid, protected and put on the stream (stored by the consumer).
ACCEPTED = "accepted"
_STOP = object()
#: How many stored message ids are remembered for ``?wait=store`` callers that ask late.
_REMEMBERED_ACKS = 100_000
#: At most this many published events are held for the sink (a sink far behind reads the
#: rest back from the log and checks them, as it does after a restart).
_HELD_EVENTS = 50_000


class IngestUnavailable(RuntimeError):
    """The log or the store could not take the batch (not the client's fault): answer 503."""


@dataclass(frozen=True)
class EventResult:
    """What happened to one event of a request."""

    index: int
    event_id: str | None  # keyed id; None for a rejected event sent without an id
    status: str
    reasons: tuple[str, ...] = ()
    session_id: str | None = None


@dataclass
class BatchOutcome:
    """What happened to one request's events, plus what the stored ones triggered.

    ``message_id`` names the log message holding the request's events (None when
    none was valid).
    """

    results: list[EventResult]
    decisions: list[dict[str, Any]] = field(default_factory=list)
    message_id: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


@dataclass
class PublishOutcome:
    """What happened to one ``mode=stream`` request: per-event status and the message id.

    ``message_id`` is None when no event was valid (nothing was published).
    """

    results: list[EventResult]
    message_id: str | None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


#: DuckDB worker threads of the service's own store connection (see IngestGateway._run_store).
STORE_THREADS = 1


@dataclass(frozen=True)
class StoredEffects:
    """What the effects stage reports back: each new event's session, and decisions made."""

    session_of: dict[str, str] = field(default_factory=dict)
    decisions_by_session: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Work the answers need not wait for (deferred risk scoring): run once they are sent.
    after_answer: Callable[[], Any] | None = None


def rejection_reasons(rejections: Sequence[Rejection]) -> dict[int, list[str]]:
    """The validator's reasons per 0-based input row, as each event's answer shows them."""
    reasons: dict[int, list[str]] = {}
    for rejection in rejections:
        reasons.setdefault(rejection.row - 1, []).append(
            f"`{rejection.field}` {rejection.value!r} {rejection.reason}")
    return reasons


@dataclass
class _Job:
    records: list[dict[str, Any]]
    source: str
    future: Future[BatchOutcome]
    #: An async caller's loop and the future it awaits (set from ``future`` on that loop).
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[BatchOutcome]] | None = None


#: An async caller's awaited future and its job's future.
_Pair = tuple["asyncio.Future[BatchOutcome]", "Future[BatchOutcome]"]


def _copy_outcomes(pairs: Sequence[_Pair]) -> None:
    """On the caller's loop: give each waiting asyncio future its job's result or error."""
    for waiter, future in pairs:
        if waiter.done():  # cancelled: the client went away
            continue
        error = future.exception()
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(future.result())


def _wake(jobs: Iterable[_Job]) -> None:
    """Wake the async callers of finished ``jobs``: one ``call_soon_threadsafe`` per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pair]] = {}
    for job in jobs:
        if job.waiter is not None and job.future.done():
            by_loop.setdefault(job.waiter[0], []).append((job.waiter[1], job.future))
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_copy_outcomes, pairs)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


@dataclass
class _Committed:
    """A write group after the log took it: per-job results, the claimed records, the message."""

    jobs: list[_Job]
    results: list[list[EventResult]]
    claimed: list[dict[str, Any]]
    source: str
    message_id: str | None


class IngestGateway:
    """The log-first request path, and the one thread that owns the event store (if any)."""

    def __init__(
        self,
        source: EventSource,
        pseudonymizer: Pseudonymizer,
        seen: SeenIds,
        store_path: str | None,
        on_committed: Callable[[list[dict[str, Any]], str], StoredEffects] | None = None,
        on_counts: Callable[[str, int, int, int, float], None] | None = None,
        max_group_events: int = 20_000,
        max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S,
    ) -> None:
        self.source = source
        self.store_path = store_path
        self.seen = seen
        self.max_future_skew_s = max_future_skew_s
        self.max_group_events = max_group_events
        self._pseudonymizer = pseudonymizer
        self._on_committed = on_committed
        self._on_counts = on_counts
        self._queue: queue.Queue[Any] = queue.Queue()
        self._effects: queue.Queue[Any] = queue.Queue()
        self._store_calls: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._writer: threading.Thread | None = None
        self._store_thread: threading.Thread | None = None
        self._store: EventStore | None = None
        self._store_ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._acks_lock = threading.Lock()
        self._acked: OrderedDict[str, None] = OrderedDict()
        self._waiting: dict[str, list[Future[None]]] = {}
        self._held_lock = threading.Lock()
        #: Published message id -> (publish number, its records), oldest first.
        self._held: OrderedDict[str, tuple[int, list[dict[str, Any]]]] = OrderedDict()
        self._held_events = 0
        self._published = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start_store(self) -> None:
        """Open the store on its own thread (raises if it cannot be opened); no-op without one."""
        if self.store_path is None or self._store_thread is not None:
            return
        self._store_thread = threading.Thread(target=self._run_store, name="shopintent-store",
                                              daemon=True)
        self._store_thread.start()
        self._store_ready.wait()
        if self._startup_error is not None:
            self._store_thread = None
            raise self._startup_error

    def start(self) -> None:
        """Open the store (when there is one), then start the log writer and the effects stage."""
        self.start_store()
        effects = threading.Thread(target=self._run_effects, name="shopintent-effects", daemon=True)
        self._writer = threading.Thread(target=self._run_writer, name="shopintent-log-writer",
                                        daemon=True)
        self._threads = [effects, self._writer]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Finish queued requests and end the request path's threads (the store stays open:
        the sink may still be storing what the log holds; :meth:`stop_store` closes it)."""
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(timeout=30)
            self._writer = None
            self._effects.put(_STOP)
            for thread in self._threads:
                thread.join(timeout=30)
            self._threads = []

    def stop_store(self) -> None:
        """Close the store and end its thread."""
        if self._store_thread is not None:
            self._store_calls.put(_STOP)
            self._store_thread.join(timeout=30)
            self._store_thread = None

    @property
    def alive(self) -> bool:
        """The request path runs (the log writer thread is up)."""
        return self._writer is not None and self._writer.is_alive()

    @property
    def store_alive(self) -> bool:
        """The store thread owns an open store."""
        return (self._store_thread is not None and self._store_thread.is_alive()
                and self._store is not None)

    # -- public API -----------------------------------------------------------------------
    def submit(self, records: Sequence[Mapping[str, Any]], source: str = "http") -> Future[BatchOutcome]:
        """Queue a batch; the future resolves once its events are in the log (or rejected)."""
        return self._enqueue(records, source, None)

    def _enqueue(self, records: Sequence[Mapping[str, Any]], source: str,
                 waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[BatchOutcome]] | None,
                 ) -> Future[BatchOutcome]:
        """``submit``; the ``waiter`` (an asyncio future on its loop, the caller's) is given the
        same outcome: at once if the job is refused, once the job is done if it is queued."""
        future: Future[BatchOutcome] = Future()
        if not self.alive:
            error = IngestUnavailable("the event log is not open (service starting or stopping); "
                                      "retry shortly")
            future.set_exception(error)
            if waiter is not None:  # called on the waiter's own loop (``ingest``)
                waiter[1].set_exception(error)
            return future
        self._queue.put(_Job([dict(r) for r in records], source, future, waiter))
        return future

    async def ingest(self, records: Sequence[Mapping[str, Any]], source: str = "http") -> BatchOutcome:
        """``submit`` for async callers (woken once per write group, see the module docstring)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[BatchOutcome] = loop.create_future()
        self._enqueue(records, source, (loop, waiter))
        return await waiter

    def call(self, fn: Callable[[EventStore], Any]) -> Future[Any]:
        """Run ``fn(store)`` on the thread that owns the store (the sink's writes, reads)."""
        future: Future[Any] = Future()
        if not self.store_alive:
            future.set_exception(IngestUnavailable(
                "the event store is not open" if self.store_path is not None else
                "this process has no event store (a worker: the sink process owns it)"))
            return future
        self._store_calls.put((fn, future))
        return future

    def note_stored(self, message_ids: Iterable[str]) -> None:
        """The sink stored these log messages: wake the callers waiting for them."""
        wake: list[Future[None]] = []
        with self._acks_lock:
            for message_id in message_ids:
                self._acked[message_id] = None
                wake.extend(self._waiting.pop(message_id, ()))
            while len(self._acked) > _REMEMBERED_ACKS:
                self._acked.popitem(last=False)
        for future in wake:
            if not future.done():
                future.set_result(None)

    def when_stored(self, message_id: str) -> Future[None]:
        """A future done once the sink has stored the log message ``message_id``."""
        future: Future[None] = Future()
        with self._acks_lock:
            if message_id in self._acked:
                future.set_result(None)
            else:
                self._waiting.setdefault(message_id, []).append(future)
        return future

    def take_published(self, message_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The records this gateway published as ``message_ids``, for the sink (each given once).

        Only messages still held are in the answer (a process that does not own the
        store holds none). Messages published before the newest one taken are dropped:
        the sink reads the log in order, so it has passed them.
        """
        out: dict[str, list[dict[str, Any]]] = {}
        with self._held_lock:
            newest = -1
            for message_id in message_ids:
                entry = self._held.pop(message_id, None)
                if entry is not None:
                    out[message_id] = entry[1]
                    self._held_events -= len(entry[1])
                    newest = max(newest, entry[0])
            while self._held and next(iter(self._held.values()))[0] < newest:
                _, (_, records) = self._held.popitem(last=False)
                self._held_events -= len(records)
        return out

    def _hold(self, message_id: str, records: list[dict[str, Any]]) -> None:
        """Keep a published message's records for the sink (see :meth:`take_published`)."""
        with self._held_lock:
            self._published += 1
            self._held[message_id] = (self._published, records)
            self._held_events += len(records)
            while self._held_events > _HELD_EVENTS and self._held:
                _, (_, dropped) = self._held.popitem(last=False)
                self._held_events -= len(dropped)

    # -- the store's thread ---------------------------------------------------------------
    def _run_store(self) -> None:
        try:
            assert self.store_path is not None
            # One DuckDB thread: a store round (every second, behind the log) then uses at most
            # one core, and the request path keeps the other.
            self._store = EventStore(self.store_path, key_id=self._pseudonymizer.key_id,
                                     threads=STORE_THREADS)
        except BaseException as exc:  # reported to start_store()
            self._startup_error = exc
            self._store_ready.set()
            return
        self._store_ready.set()
        try:
            while True:
                item = self._store_calls.get()
                if item is _STOP:
                    break
                fn, future = item
                try:
                    future.set_result(fn(self._store))
                except BaseException as exc:
                    future.set_exception(exc)
        finally:
            store, self._store = self._store, None
            while True:
                try:
                    item = self._store_calls.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP and not item[1].done():
                    item[1].set_exception(IngestUnavailable("the service is stopping; retry"))
            if store is not None:
                store.close()

    # -- the log writer -------------------------------------------------------------------
    def _run_writer(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                jobs, stop_after = drain_behind(item, self._queue, self.max_group_events,
                                                lambda job: len(job.records), _STOP)
                self._write_group(jobs)
                if stop_after:
                    break
        finally:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP and not item.future.done():
                    item.future.set_exception(IngestUnavailable("the service is stopping; retry"))
                    _wake([item])

    def _write_group(self, jobs: list[_Job]) -> None:
        try:
            committed = self._commit(jobs)
        except Exception as exc:  # one bad request must not fail the others: retry one by one
            if len(jobs) > 1:
                for job in jobs:
                    self._write_group([job])
                return
            log.warning("write group failed", error=type(exc).__name__, detail=str(exc)[:200])
            error = exc if isinstance(exc, ValueError | TypeError | OverflowError) else \
                IngestUnavailable(f"the event log could not take the batch: {type(exc).__name__}")
            jobs[0].future.set_exception(error)
            _wake(jobs)
            return
        self._effects.put(committed)

    def _commit(self, jobs: list[_Job]) -> _Committed:
        """Prepare one write group, publish it as one log message, claim its ids."""
        started = time.perf_counter()
        records = [r for job in jobs for r in job.records]
        groups = [i for i, job in enumerate(jobs) for _ in job.records]
        prepared = prepare_records(records, self._pseudonymizer, groups=groups,
                                   max_future_skew_s=self.max_future_skew_s)
        message_id = None
        if prepared.records:
            message_id = self.source.publish(prepared.records, key_id=self._pseudonymizer.key_id,
                                             applied=True)
            if self.store_path is not None:  # read-only from here on: effects and the sink share them
                self._hold(message_id, prepared.records)
        fresh = self.seen.claim([str(r["event_id"]) for r in prepared.records])
        new_at = {p for p, f in zip(prepared.positions, fresh, strict=True) if f}
        claimed = [r for r, f in zip(prepared.records, fresh, strict=True) if f]
        reasons = rejection_reasons(prepared.rejections)
        all_results: list[list[EventResult]] = []
        start = 0
        n_stored = n_dup = n_rej = 0
        for job in jobs:
            results = []
            for index in range(len(job.records)):
                row = start + index
                event_id = prepared.event_ids[row]
                if row in reasons:
                    results.append(EventResult(index, event_id, REJECTED, tuple(reasons[row])))
                    n_rej += 1
                elif row in new_at:
                    results.append(EventResult(index, event_id, STORED))
                    n_stored += 1
                else:
                    results.append(EventResult(index, event_id, DUPLICATE))
                    n_dup += 1
            all_results.append(results)
            start += len(job.records)
        source = "+".join(sorted({job.source for job in jobs}))
        if self._on_counts is not None:
            self._on_counts(source, n_stored, n_dup, n_rej, time.perf_counter() - started)
        return _Committed(jobs, all_results, claimed, source, message_id)

    def _run_effects(self) -> None:
        """Second stage: live state and decisions for the committed groups, then the answers.

        Every group waiting when the stage wakes is taken in one pass (one state fold, one
        batched scoring of the sessions touched, one risk step), as the writer merges queued
        requests into one write group: at one event per request the writer's groups hold one
        event each, and the effects' fixed cost per call (model calls, their Python set-up)
        would otherwise be paid per event exactly when the service is busiest.
        """
        while True:
            item = self._effects.get()
            if item is _STOP:
                return
            items, stop_after = drain_behind(item, self._effects, self.max_group_events,
                                             lambda committed: len(committed.claimed), _STOP)
            self._apply_and_answer(items)
            if stop_after:
                return

    def _apply_and_answer(self, items: list[_Committed]) -> None:
        """Live effects of the claimed events of ``items`` (in commit order), then every answer."""
        effects = StoredEffects()
        claimed = [r for item in items for r in item.claimed]
        if self._on_committed is not None and claimed:
            source = "+".join(sorted({part for item in items for part in item.source.split("+")}))
            try:
                effects = self._on_committed(claimed, source)
            except Exception as exc:  # the events are in the log: answer, without live effects
                log.warning("live effects failed; events are committed to the log",
                            error=type(exc).__name__, detail=str(exc)[:200])
        for item in items:
            for job, results in zip(item.jobs, item.results, strict=True):
                sessions: dict[str, None] = {}
                final = []
                for r in results:
                    session = effects.session_of.get(r.event_id) if r.status == STORED else None
                    if session is not None:
                        sessions[session] = None
                        r = EventResult(r.index, r.event_id, r.status, r.reasons, session)
                    final.append(r)
                decisions = [d for s in sessions for d in effects.decisions_by_session.get(s, [])]
                if not job.future.done():
                    job.future.set_result(BatchOutcome(final, decisions, item.message_id))
        _wake([job for item in items for job in item.jobs])
        if effects.after_answer is not None:
            try:
                effects.after_answer()
            except Exception as exc:  # noqa: BLE001 - answered and committed; log and go on
                log.warning("work after the answers failed", error=type(exc).__name__, detail=str(exc)[:200])
