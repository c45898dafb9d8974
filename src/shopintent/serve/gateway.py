"""The single writer: every event the service receives is stored by one thread.

DuckDB connections are not shared across threads, and an embedded store wants
one writer anyway. HTTP handlers and stream consumers hand batches to
:class:`IngestGateway`; its thread drains whatever is queued into one *write
group* (group commit: many small requests share one transaction), runs it
through the one ingest path — :func:`shopintent.store.ingest.ingest_events`:
validate → pseudonymise/scrub → append — and only then resolves each caller's
future. A response is therefore never sent for an event that is not yet in the
store (the kill -9 test checks this).

Per-event outcomes: ingest gives every event its keyed id
(:mod:`shopintent.privacy.event_ids`: the pseudonym of the client's ``event_id``,
else of the event's canonical content and its occurrence *in its request*, so a
retried request is a no-op and an event sent once by HTTP and once by ``store
ingest`` is stored once). Knowing the ids lets the gateway say, for each event,
``stored``, ``duplicate`` (already in the store, or earlier in the group) or
``rejected`` with the validator's reasons; the answer names the keyed id, never
the client's raw one. Newly stored rows (read back by their ingest sequence,
i.e. as protected in the store) go to ``on_stored``, which updates live state;
duplicates never reach it, so state is idempotent too.

Rows the service protected before putting them on a stream come back through
:meth:`IngestGateway.submit_protected` and :func:`~shopintent.store.ingest.ingest_protected`
(checked, scrubbed again, not pseudonymised twice).

Two stages, two threads: the writer persists group *n+1* while an effects
thread folds group *n* into session state and asks for decisions; a caller's
future resolves after both, so its answer holds its sessions and decisions.
Effects run in write order, one group at a time.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopintent.log import get_logger
from shopintent.privacy import Pseudonymizer
from shopintent.schema.validation import DEFAULT_MAX_FUTURE_SKEW_S, EVENT_COLUMNS, Rejection
from shopintent.store import EventStore
from shopintent.store.ingest import IngestReport, ingest_events, ingest_protected

log = get_logger(__name__)

STORED, DUPLICATE, REJECTED = "stored", "duplicate", "rejected"
#: ``mode=stream``: valid, protected and put on the stream (stored by the consumer).
ACCEPTED = "accepted"
_STOP = object()


class IngestUnavailable(RuntimeError):
    """The store could not take the batch (not the client's fault): answer 503."""


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
    """What happened to one request's events, plus what the stored ones triggered."""

    results: list[EventResult]
    decisions: list[dict[str, Any]] = field(default_factory=list)

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


@dataclass(frozen=True)
class StoredEffects:
    """What ``on_stored`` reports back: each new event's session, and decisions made."""

    session_of: dict[str, str] = field(default_factory=dict)
    decisions_by_session: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


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
    #: None for raw events; the key id for rows protected before (a stream message).
    key_id: str | None = None


class IngestGateway:
    """Owns the event store on one thread; ``submit`` batches from any thread or task."""

    def __init__(
        self,
        store_path: str,
        pseudonymizer: Pseudonymizer,
        on_stored: Callable[[pd.DataFrame, str], StoredEffects] | None = None,
        on_counts: Callable[[str, int, int, int, float], None] | None = None,
        max_group_events: int = 20_000,
        max_future_skew_s: float | None = DEFAULT_MAX_FUTURE_SKEW_S,
    ) -> None:
        self.store_path = store_path
        self.max_future_skew_s = max_future_skew_s
        self._pseudonymizer = pseudonymizer
        self._on_stored = on_stored
        self._on_counts = on_counts
        self.max_group_events = max_group_events
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._store: EventStore | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._effects: queue.Queue[Any] = queue.Queue()
        self._effects_thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Open the store on the writer thread; raises if it cannot be opened."""
        self._effects_thread = threading.Thread(target=self._run_effects, name="shopintent-effects",
                                                daemon=True)
        self._effects_thread.start()
        self._thread = threading.Thread(target=self._run, name="shopintent-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        """Finish queued work, close the store and end the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        self._thread = None
        if self._effects_thread is not None:
            self._effects.put(_STOP)
            self._effects_thread.join(timeout=30)
            self._effects_thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._store is not None

    # -- public API -----------------------------------------------------------------------
    def submit(self, records: Sequence[Mapping[str, Any]], source: str = "http") -> Future[BatchOutcome]:
        """Queue a batch; the future resolves once its events are stored (or rejected)."""
        future: Future[BatchOutcome] = Future()
        if not self.alive:
            future.set_exception(IngestUnavailable("the event store is not open (service starting "
                                                   "or stopping); retry shortly"))
            return future
        self._queue.put(_Job([dict(r) for r in records], source, future))
        return future

    def submit_protected(self, rows: Sequence[Mapping[str, Any]], key_id: str,
                         source: str = "stream") -> Future[BatchOutcome]:
        """``submit`` for rows protected under the key ``key_id`` (the service's own stream messages)."""
        future: Future[BatchOutcome] = Future()
        if not self.alive:
            future.set_exception(IngestUnavailable("the event store is not open (service starting "
                                                   "or stopping); retry shortly"))
            return future
        self._queue.put(_Job([dict(r) for r in rows], source, future, key_id))
        return future

    async def ingest(self, records: Sequence[Mapping[str, Any]], source: str = "http") -> BatchOutcome:
        """``submit`` for async callers."""
        return await asyncio.wrap_future(self.submit(records, source))

    def call(self, fn: Callable[[EventStore], Any]) -> Future[Any]:
        """Run ``fn(store)`` on the writer thread (reads and writes of other tables)."""
        future: Future[Any] = Future()
        if not self.alive:
            future.set_exception(IngestUnavailable("the event store is not open"))
            return future
        self._queue.put((fn, future))
        return future

    # -- writer thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._store = EventStore(self.store_path, key_id=self._pseudonymizer.key_id)
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if isinstance(item, tuple):
                    self._run_call(*item)
                    continue
                jobs = [item]
                size = len(item.records)
                stop_after = False
                while size < self.max_group_events:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop_after = True
                        break
                    if isinstance(nxt, tuple):
                        self._run_call(*nxt)
                        continue
                    jobs.append(nxt)
                    size += len(nxt.records)
                self._write_group(jobs)
                if stop_after:
                    break
        finally:
            store, self._store = self._store, None
            self._drain_with_error()
            if store is not None:
                store.close()

    def _drain_with_error(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            future = item[1] if isinstance(item, tuple) else getattr(item, "future", None)
            if future is not None and not future.done():
                future.set_exception(IngestUnavailable("the service is stopping; retry"))

    def _run_call(self, fn: Callable[[EventStore], Any], future: Future[Any]) -> None:
        try:
            assert self._store is not None
            future.set_result(fn(self._store))
        except BaseException as exc:
            future.set_exception(exc)

    def _write_group(self, jobs: list[_Job]) -> None:
        try:
            persisted = self._persist(jobs)
        except Exception as exc:  # one bad request must not fail the others: retry one by one
            if len(jobs) > 1:
                for job in jobs:
                    self._write_group([job])
                return
            log.warning("write group failed", error=type(exc).__name__, detail=str(exc)[:200])
            error = exc if isinstance(exc, ValueError | TypeError | OverflowError) else \
                IngestUnavailable(f"the store could not take the batch: {type(exc).__name__}")
            jobs[0].future.set_exception(error)
            return
        self._effects.put(persisted)

    def _persist(self, jobs: list[_Job]) -> tuple[list[_Job], list[list[EventResult]], pd.DataFrame, str]:
        """Ingest one write group; per-event statuses and the rows that were new."""
        store = self._store
        assert store is not None
        started = time.perf_counter()
        before = store.last_seq()
        # Per job: its rows' keyed ids and rejection reasons (raw and protected rows are
        # ingested separately; each raw request keeps its own occurrence count).
        outcomes: dict[int, tuple[list[str | None], dict[int, list[str]]]] = {}
        appended = 0
        raw = [(i, job) for i, job in enumerate(jobs) if job.key_id is None]
        if raw:
            records = [r for _, job in raw for r in job.records]
            groups = np.repeat(np.arange(len(raw)), [len(job.records) for _, job in raw])
            frame = pd.DataFrame.from_records(records, columns=list(EVENT_COLUMNS))
            report = ingest_events(store, frame, self._pseudonymizer, groups=groups,
                                   max_future_skew_s=self.max_future_skew_s)
            appended += report.appended
            self._split(report, raw, outcomes)
        for key_id in dict.fromkeys(job.key_id for job in jobs if job.key_id is not None):
            protected = [(i, job) for i, job in enumerate(jobs) if job.key_id == key_id]
            rows = [r for _, job in protected for r in job.records]
            frame = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
            report = ingest_protected(store, frame, key_id,
                                      max_future_skew_s=self.max_future_skew_s)
            appended += report.appended
            self._split(report, protected, outcomes)
        new_rows = store.events_after(before)
        # Every event has an id, so the new rows say exactly which events were stored;
        # a valid event whose id is not among them (or was seen earlier in the group) is a duplicate.
        fresh = set(new_rows["event_id"].astype(str)) if len(new_rows) else set()
        claimed: set[str] = set()
        all_results: list[list[EventResult]] = []
        n_stored = n_dup = n_rej = 0
        for i, job in enumerate(jobs):
            ids, reasons = outcomes[i]
            results = []
            for index, event_id in enumerate(ids):
                if index in reasons:
                    results.append(EventResult(index, event_id, REJECTED, tuple(reasons[index])))
                    n_rej += 1
                elif event_id in fresh and event_id not in claimed:
                    results.append(EventResult(index, event_id, STORED))
                    claimed.add(event_id)
                    n_stored += 1
                else:
                    results.append(EventResult(index, event_id, DUPLICATE))
                    n_dup += 1
            all_results.append(results)
        if n_stored != appended:
            log.warning("per-event status disagrees with the store", stored=n_stored,
                        appended=appended)
        source = "+".join(sorted({job.source for job in jobs}))
        if self._on_counts is not None:
            self._on_counts(source, n_stored, n_dup, n_rej, time.perf_counter() - started)
        return jobs, all_results, new_rows, source

    @staticmethod
    def _split(report: IngestReport, jobs: list[tuple[int, _Job]],
               outcomes: dict[int, tuple[list[str | None], dict[int, list[str]]]]) -> None:
        """Cut one ingest report over several jobs back into each job's ids and reasons."""
        reasons = rejection_reasons(report.rejections)
        start = 0
        for i, job in jobs:
            end = start + len(job.records)
            outcomes[i] = (report.event_ids[start:end],
                           {row - start: reasons[row] for row in range(start, end) if row in reasons})
            start = end

    def _run_effects(self) -> None:
        """Second stage: live state and decisions for each persisted group, then the answers."""
        while True:
            item = self._effects.get()
            if item is _STOP:
                return
            jobs, all_results, new_rows, source = item
            effects = StoredEffects()
            if self._on_stored is not None and len(new_rows):
                try:
                    effects = self._on_stored(new_rows, source)
                except Exception as exc:  # the events are stored: answer, without live effects
                    log.warning("live effects failed; events are stored", error=type(exc).__name__,
                                detail=str(exc)[:200])
            for job, results in zip(jobs, all_results, strict=True):
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
                    job.future.set_result(BatchOutcome(final, decisions))
