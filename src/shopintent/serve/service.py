"""The running service without HTTP: event log, store sink, session state, models, live stats.

:class:`Service` wires the pieces together and is what the routers call; tests
and the benchmark can drive it directly. It holds no business logic of its
own: ingest is :mod:`shopintent.store.ingest`, scores come from
:mod:`shopintent.behaviour`, decisions (with caps and their log) from
:mod:`shopintent.intervene`, all through :mod:`shopintent.serve.adapters`.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shopintent.assist.live import AssistDesk
from shopintent.fairness.live import LiveGroupRates
from shopintent.log import get_logger
from shopintent.prepare.catalogue import not_prepared
from shopintent.privacy import Pseudonymizer
from shopintent.profile.live import LiveProfiles
from shopintent.serve.adapters import intervene as intervene_adapter
from shopintent.serve.adapters.base import ModelSlot, ModelUnavailable
from shopintent.serve.adapters.behaviour import behaviour_slot, decision_scores, score_sessions
from shopintent.serve.adapters.recommend import recommend_items, recommend_slot
from shopintent.serve.adapters.risk import LiveRisk, risk_slot
from shopintent.serve.adapters.text import parse_texts, prefetch_intent_tokenizer, text_slot
from shopintent.serve.batcher import MicroBatcher
from shopintent.serve.config import ServeConfig, resolved_log_dir
from shopintent.serve.dedup import MemorySeenIds, SeenIds
from shopintent.serve.gateway import (
    ACCEPTED,
    REJECTED,
    BatchOutcome,
    EventResult,
    IngestGateway,
    PublishOutcome,
    StoredEffects,
    rejection_reasons,
)
from shopintent.serve.live import FUNNEL_STAGES, LiveStats
from shopintent.serve.metrics import ServiceMetrics
from shopintent.serve.startup import release_collection
from shopintent.serve.state.base import (
    LiveSessionState,
    LiveSessionStore,
    Transition,
    LiveEvent,
    derived_session_id,
    live_events,
    live_events_from_records,
)
from shopintent.serve.state.history import (
    MemoryShopperHistory,
    NoShopperHistory,
    Observation,
    ShopperHistoryStore,
)
from shopintent.serve.state.memory import MemorySessionStore
from shopintent.serve.state.signals import MemorySessionSignals, SessionSignals
from shopintent.serve.streams.base import EventSource, StreamMessage
from shopintent.serve.streams.consumer import StreamConsumer
from shopintent.serve.streams.memory import MemorySource
from shopintent.schema.validation import EVENT_COLUMNS
from shopintent.settings import Settings
from shopintent.store import EventStore
from shopintent.store.ingest import (
    ingest_events,
    ingest_own_records,
    ingest_protected,
    prepare_records,
    protected_records,
)

log = get_logger(__name__)

#: The order models are loaded in (cheapest first).
LOAD_ORDER = ("intervene", "risk", "behaviour", "recommend", "text")
#: How often loaded models' files are checked for a newer, better version (a promoted fine-tune).
MODEL_WATCH_S = 10.0
#: Event types after which a session is re-decided when ``auto_decide == "cart"``.
CART_EVENTS = frozenset({"add_to_cart", "remove_from_cart", "favourite"})


class SessionNotFound(LookupError):
    """No live state for the session id given."""


class DecisionNotFound(LookupError):
    """An outcome names a decision that this engine never issued."""


class SinkNotHere(RuntimeError):
    """``?wait=store`` asked of a worker whose store sink runs in another process."""


def _make_state(settings: Settings, config: ServeConfig) -> LiveSessionStore:
    gap_s = settings.session_gap_minutes * 60
    if config.state == "redis":
        from shopintent.serve.state.redis_state import RedisSessionStore

        assert config.redis_url is not None
        return RedisSessionStore(config.redis_url, gap_s, prefix=config.stream_name + ":state:")
    return MemorySessionStore(gap_s, max_sessions=config.max_sessions)


def _make_history(config: ServeConfig) -> ShopperHistoryStore:
    if not config.shopper_history:
        return NoShopperHistory()
    if config.state == "redis":
        from shopintent.serve.state.history import RedisShopperHistory

        assert config.redis_url is not None
        return RedisShopperHistory(config.redis_url, prefix=config.stream_name + ":state:")
    return MemoryShopperHistory()


def _make_signals(config: ServeConfig) -> SessionSignals:
    if config.state == "redis":
        from shopintent.serve.state.signals import RedisSessionSignals

        assert config.redis_url is not None
        return RedisSessionSignals(config.redis_url, prefix=config.stream_name + ":state:")
    return MemorySessionSignals()


def _make_source(config: ServeConfig, log_dir: Path | None,
                 kafka_config: Mapping[str, Any] | None = None) -> EventSource:
    """The event log of ``config.stream`` (``log_dir``: the file log's folder; ``kafka_config``:
    librdkafka settings, ``Settings.kafka_client_config()``)."""
    if config.stream == "redis":
        from shopintent.serve.streams.redis_streams import RedisStreamSource

        assert config.redis_url is not None
        return RedisStreamSource(config.redis_url, config.stream_name, config.consumer_group,
                                 consumer=config.consumer_name)
    if config.stream == "kafka":
        from shopintent.serve.streams.kafka import KafkaEventSource

        return KafkaEventSource(config.kafka_bootstrap, topic=config.stream_name.replace(":", "."),
                                group=config.consumer_group, consumer=config.consumer_name,
                                client_config=kafka_config)
    if config.stream == "file":
        from shopintent.serve.streams.file_log import FileLogSource

        assert log_dir is not None
        return FileLogSource(log_dir, fsync=config.fsync)
    return MemorySource()


def _make_seen(config: ServeConfig) -> SeenIds:
    """The dedup index: in Redis when session state is (shared by workers), else in memory."""
    if config.state == "redis":
        from shopintent.serve.dedup import RedisSeenIds

        assert config.redis_url is not None
        return RedisSeenIds(config.redis_url, config.dedup_horizon_s,
                            prefix=config.stream_name + ":")
    return MemorySeenIds(config.dedup_horizon_s)


def _live_session_ids(sessions: pd.DataFrame) -> dict[str, str]:
    """Store session id -> the id the live state gives the same session (client id, else derived).

    Adds the ``live_session_id`` column to ``sessions`` as a side effect.
    """
    first = pd.to_datetime(sessions["timestamp"], utc=True).groupby(sessions["session_id"]).transform("min")
    start = (first - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    derived = [derived_session_id(u, s) for u, s in zip(sessions["user_id"].astype(str), start, strict=True)]
    client = sessions["client_session_id"] if "client_session_id" in sessions else pd.Series(pd.NA, index=sessions.index)
    live = client.astype(object).where(client.notna(), pd.Series(derived, index=sessions.index))
    sessions["live_session_id"] = live.astype(str)
    return dict(zip(sessions["session_id"].astype(str), sessions["live_session_id"], strict=True))


class Service:
    """Everything one service instance runs; ``start``/``stop`` bracket its life."""

    def __init__(self, settings: Settings, config: ServeConfig) -> None:
        self.settings = settings
        self.config = config
        self.metrics = ServiceMetrics()
        self.stats = LiveStats(window_s=config.live_window_s)
        # computed when /metrics is scraped, not after every write group on the log writer
        self.metrics.events_per_second.set_function(self.stats.events.rate)
        self.pseudonymizer = Pseudonymizer.from_settings(settings)
        self.state = _make_state(settings, config)
        self.histories = _make_history(config)
        self.signals = _make_signals(config)
        self.history_restored = threading.Event()
        self.models: dict[str, ModelSlot[Any]] = {
            "text": text_slot(settings, config.intent_encoder),
            "behaviour": behaviour_slot(settings),
            "recommend": recommend_slot(settings),
            "intervene": intervene_adapter.intervene_slot(settings, config),
            "risk": risk_slot(settings),
        }
        for name, slot in self.models.items():  # loads what `shopintent models prepare` wrote; never trains
            slot.requires = functools.partial(not_prepared, settings, name)
        log_dir = resolved_log_dir(config, settings) if config.stream == "file" else None
        # A ":memory:" store's file log lives as long as the store: in a folder of its own.
        self._temporary_log = (Path(tempfile.mkdtemp(prefix="shopintent-log-"))
                               if config.stream == "file" and log_dir is None else None)
        self.seen = _make_seen(config)
        self.risk = LiveRisk(settings, config, self.pseudonymizer, self.metrics.registry)
        self.fairness = LiveGroupRates(settings, self.metrics.registry)
        self.profiles = LiveProfiles(settings)  # folded in by the store sink, read by GET /v1/users/{id}/profile
        self.assist_desk = AssistDesk(settings, self.pseudonymizer, config.state, config.redis_url,
                                      prefix=config.stream_name + ":state:")
        self.source = _make_source(config, log_dir or self._temporary_log,
                                   settings.kafka_client_config() if config.stream == "kafka" else None)
        self.gateway = IngestGateway(
            self.source, self.pseudonymizer, self.seen,
            config.resolved_store_path(settings) if config.sink else None,
            on_committed=self._apply_effects, on_counts=self._on_counts,
            max_future_skew_s=settings.max_future_skew_s,
        )
        self.consumer = StreamConsumer(self.source, self._store_messages, on_acked=self._on_acked,
                                       key_id=self.pseudonymizer.key_id)
        self._draining = False
        self._stop = threading.Event()
        self._loader: threading.Thread | None = None
        #: Set once the first load pass is over (each model loaded or found missing).
        self.first_load_pass = threading.Event()
        # Looked up at call time: a test or a reload may replace the slot.
        self.intent_batcher: MicroBatcher[str, dict[str, Any]] = MicroBatcher(
            lambda texts: parse_texts(self.models["text"], texts), max_batch=32, name="intent-batcher")

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, load_models: bool = True) -> None:
        """Open the store, store the log's unacknowledged tail, restore histories, then start the
        request path and the store sink; models load on a background thread.

        The service answers once the log's tail is stored (normally a few messages); it endpoints that need a model answer 503
        ("loading") until it is ready, and missing models are retried every 30 s.
        """
        if load_models:  # overlaps the store's start and the other models' loads (GIL-free parse)
            prefetch_intent_tokenizer(self.settings)
        if self.config.sink:
            self.gateway.start_store()
            # What the log holds beyond the store (acknowledged before a crash, not yet stored)
            # goes in first, without live effects: the restore below rebuilds them from the store.
            self._draining = True
            try:
                drained = self.consumer.drain()
            finally:
                self._draining = False
            # Before any event is folded in: rebuild shopper histories (and, for in-process
            # state, the open sessions) from the store, on the thread that owns it.
            self.gateway.call(self._restore_from_store).result()
            # Redis keeps claimed ids across restarts; the in-process index starts empty.
            seeded = 0 if self.seen.persistent else self.gateway.call(self._recent_ids).result()
            log.info("event log caught up", drained=drained, seen_ids=seeded)
        else:
            self.history_restored.set()  # the sink process restores them
        unacknowledged = getattr(self.source, "unacknowledged", None)
        if unacknowledged is not None:
            self.seen.seed(str(e["event_id"]) for m in unacknowledged() for e in m.events
                           if e.get("event_id") is not None)
        self.gateway.start()
        if self.config.sink:
            self.consumer.start()
        if load_models:
            self._loader = threading.Thread(target=self._load_loop, name="model-loader", daemon=True)
            self._loader.start()
        else:
            release_collection()  # nothing left to load: the start is over
            self.first_load_pass.set()
        log.info("service started", store=self.gateway.store_path, stream=self.source.backend,
                 state=self.config.state, sink=self.config.sink)

    def stop(self, drain_timeout_s: float = 20.0) -> None:
        """Answer what is queued, let the sink store what the log holds (up to
        ``drain_timeout_s``), then close everything."""
        self._stop.set()
        release_collection()  # a service stopped before its first load pass ended
        self.gateway.stop()  # the request path: queued requests are committed and answered
        if self.config.sink and self.consumer.alive:
            deadline = time.monotonic() + drain_timeout_s
            while self.log_pending() and time.monotonic() < deadline:
                time.sleep(0.02)
        self.consumer.stop()
        self.gateway.stop_store()
        self.source.close()
        if self._temporary_log is not None:
            shutil.rmtree(self._temporary_log, ignore_errors=True)
        self.seen.close()
        self.state.close()
        self.histories.close()
        self.signals.close()
        self.risk.close()
        self.assist_desk.close()
        self.intent_batcher.close()
        engine = self.models["intervene"]
        if engine.ready:
            engine.get().close()

    def _load_loop(self) -> None:
        """Load models as their files appear, then keep watching them for a better version.

        Runs until :meth:`stop`; each wait returns at once when the service stops,
        so a shutdown never waits for more than the load in progress (a load, never
        a training: nothing here trains).
        """
        frozen = False
        while not self._stop.is_set():
            self.refresh_models()
            # The first pass is done (loaded or not): the collector a start held off runs again.
            release_collection()
            self.first_load_pass.set()
            everything = all(slot.ready for slot in self.models.values())
            if everything and not frozen:
                # The loaded models and libraries are millions of long-lived objects: move them
                # out of the collector's reach, so a full collection no longer walks them all
                # while requests wait (the p99 tail of one event per request).
                gc.collect()
                gc.freeze()
                frozen = True
            self._stop.wait(MODEL_WATCH_S if everything else 1.0)

    def refresh_models(self, only_due: bool = True) -> dict[str, bool]:
        """Load the models that are not ready (those due for a retry), swap in changed files of those
        that are, and record readiness for /metrics.

        A model whose files ``shopintent models prepare`` has not written is
        not loaded; its slot says so (the 503 reason) and looks again every
        few seconds, so preparing in another terminal is picked up without a
        restart.
        """
        for name in LOAD_ORDER:
            if self._stop.is_set():
                break
            slot = self.models[name]
            if slot.ready:
                slot.reload_if_changed()
            elif slot.due() or not only_due:
                slot.load()
            self.metrics.model_ready.labels(name).set(1 if slot.ready else 0)
        ready = {name: slot.ready for name, slot in self.models.items()}
        for name, ok in ready.items():
            self.metrics.model_ready.labels(name).set(1 if ok else 0)
        versions = {name: str(slot.card.get("version", "")) for name, slot in self.models.items()
                    if slot.ready}
        self.metrics.model_info.info(versions or {"none": ""})
        return ready

    def ready(self) -> dict[str, Any]:
        """What /readyz reports: whether the service can do what it was started to do.

        Ready means the store thread, the event log writer, the store sink (store and
        sink are ``None`` in a worker whose sink is another process) and the
        shopper-history restore are up and every *needed* model is loaded. A service started with models
        needs all of them (each endpoint depends on one, decisions on two); one
        started without (``--no-models``) needs none. Per model: needed, ready,
        state (``ready``, ``loading``, ``unavailable``, or ``off`` when not
        loaded by choice) and the version once loaded; never a path or a failure
        reason (those are in the log and behind a key on the endpoints).
        """
        loads_models = self._loader is not None
        models = {
            name: {"needed": loads_models, "ready": slot.ready,
                   "state": slot.state if loads_models or slot.ready else "off",
                   "version": str(slot.card.get("version", "")) if slot.ready else None}
            for name, slot in self.models.items()}
        sink = self.consumer.alive if self.config.sink else None
        parts = {"store": self.gateway.store_alive if self.config.sink else None,
                 "stream": self.gateway.alive, "sink": sink,
                 "history": self.history_restored.is_set()}
        waiting = [name for name, m in models.items() if m["needed"] and not m["ready"]]
        up = all(v for v in parts.values() if v is not None)
        return {"ready": up and not waiting, **parts, "log_pending": self.log_pending(),
                "models": models, "waiting_for": waiting}

    def log_pending(self) -> int:
        """Messages in the event log the store sink has not stored yet (0 when it cannot tell)."""
        try:
            pending = int(self.source.pending())
        except Exception as exc:  # a broker that is away must not break /readyz or /metrics
            log.warning("event log pending count unavailable", error=type(exc).__name__)
            return 0
        self.metrics.log_pending.set(pending)
        return pending

    # -- events ---------------------------------------------------------------------------
    async def ingest(self, records: Sequence[Mapping[str, Any]], wait_store: bool = False,
                     timeout_s: float = 30.0) -> BatchOutcome:
        """Commit events to the log (answered then); ``wait_store``: also wait for the sink to
        store them in DuckDB (read-your-writes; raises ``TimeoutError`` after ``timeout_s``)."""
        outcome = await self.gateway.ingest(records, "http")
        if wait_store and outcome.message_id is not None:
            if not self.config.sink:
                raise SinkNotHere("wait=store needs the store sink in this process; this worker "
                                  "runs beside a separate `shopintent serve sink`")
            stored = self.gateway.when_stored(outcome.message_id)
            self.consumer.nudge()
            await asyncio.wait_for(asyncio.wrap_future(stored),
                                   timeout_s)
        return outcome

    def publish(self, records: Sequence[Mapping[str, Any]]) -> PublishOutcome:
        """Validate and protect events, then put the valid ones on the stream (stored later).

        Nothing raw reaches the stream: each valid event is published as its
        protected row (pseudonyms, keyed ``event_id``, scrubbed text) with this
        service's key id, and the consumer stores it without protecting it
        twice. Invalid events are answered with the same per-event reasons as
        ``POST /v1/events`` and not published; if none is valid, nothing is.
        """
        prepared = prepare_records(records, self.pseudonymizer,
                                   max_future_skew_s=self.settings.max_future_skew_s)
        reasons = rejection_reasons(prepared.rejections)
        results = [EventResult(i, event_id, REJECTED, tuple(reasons[i])) if i in reasons
                   else EventResult(i, event_id, ACCEPTED)
                   for i, event_id in enumerate(prepared.event_ids)]
        message_id = None
        if prepared.records:
            message_id = self.source.publish(prepared.records, key_id=self.pseudonymizer.key_id)
        if reasons:
            self.metrics.events.labels("rejected", "stream").inc(len(reasons))
            self.stats.record_ingest(0, 0, len(reasons))
        return PublishOutcome(results, message_id)

    def _on_counts(self, source: str, stored: int, duplicates: int, rejected: int, seconds: float) -> None:
        m = self.metrics
        for outcome, n in (("stored", stored), ("duplicate", duplicates), ("rejected", rejected)):
            if n:
                m.events.labels(outcome, source).inc(n)
        m.ingest_latency.observe(seconds)
        self.stats.record_ingest(stored, duplicates, rejected)

    def _apply_effects(self, records: list[dict[str, Any]], source: str) -> StoredEffects:
        """Live effects of newly committed events (protected records): state, funnel, histories,
        search intents, decisions. Runs on the gateway's effects thread for the request path, and
        on the sink's thread for messages whose publisher did not apply them."""
        events = live_events_from_records(records)
        transitions = self.state.apply(events)
        session_of: dict[str, str] = {}
        for t in transitions:
            for event_id in t.event_ids:
                session_of[event_id] = t.state.session_id
            for stage in FUNNEL_STAGES:
                if stage in t.new_types:
                    self.stats.record_stage(stage)
        observations: list[Observation] = [
            (e.user_id, session_of[e.event_id], (e.event_type, e.ts, e.item_id, e.category_id))
            for e in events if e.event_id in session_of]
        # seq 0: these events may not be in the store yet; the sink advances the history's seq.
        self.histories.observe(observations, 0)
        self._note_search_intents(records, session_of)
        decisions: dict[str, list[dict[str, Any]]] = {}
        due = self._due_for_decision(transitions, events)
        # Before decisions the engine's guardrail reads the verdict of the event just stored, so
        # the sessions due for one are scored now; the rest after the answers (LiveRisk.defer).
        due_ids = {s.session_id for s in due}
        self.risk.on_sessions(self.models["risk"], due)
        self.risk.defer(self.models["risk"], [t.state for t in transitions if t.state.session_id not in due_ids])
        if due:
            for d in self._decide_many(due, trigger="event"):
                decisions.setdefault(d["session_id"], []).append(d)
        return StoredEffects(session_of=session_of, decisions_by_session=decisions,
                             after_answer=self.risk.settle)

    def _due_for_decision(self, transitions: list[Transition], events: list[LiveEvent]) -> list[LiveSessionState]:
        mode = self.config.auto_decide
        if mode == "off" or not transitions or not (self.models["intervene"].ready
                                                    and self.models["behaviour"].ready):
            return []
        if mode == "every":
            return [t.state for t in transitions]
        cart_ids = {e.event_id for e in events if e.event_type in CART_EVENTS}
        return [t.state for t in transitions if cart_ids.intersection(t.event_ids)]

    # -- the store sink -------------------------------------------------------------------
    def _store_messages(self, messages: Sequence[StreamMessage]) -> None:
        """The sink: store a round of log messages in DuckDB, then the live effects of the new
        events whose publisher did not apply them (outside producers, ``?mode=stream``)."""
        fresh, counts, last_seq = self.gateway.call(
            functools.partial(self._store_round, messages)).result()
        stored, duplicates, rejected, seconds = counts
        if self._draining:
            return  # start: the restore from the store rebuilds live state and histories
        if fresh:
            claimed = self.seen.claim([str(r["event_id"]) for r in fresh])
            new = [r for r, ok in zip(fresh, claimed, strict=True) if ok]
            duplicates += len(fresh) - len(new)
            stored = len(new)
            if new:
                try:
                    self._apply_effects(new, "stream")
                    self.risk.settle()  # nobody waits for an answer here
                except Exception as exc:  # stored: the message must not come back for this
                    log.warning("live effects of stream events failed; events are stored",
                                error=type(exc).__name__, detail=str(exc)[:200])
        if stored or duplicates or rejected:
            self._on_counts("stream", stored, duplicates, rejected, seconds)
        # The histories now hold every stored event (the request path applied the others).
        self.histories.observe([], last_seq)
        self.profiles.catch_up(self.gateway.call, last_seq)  # what this round stored, off the request path

    def _store_round(self, messages: Sequence[StreamMessage],
                     store: EventStore) -> tuple[list[dict[str, Any]], tuple[int, int, int, float], int]:
        """On the store's thread: append a round's events (idempotent by ``event_id``).

        Returns the newly stored events of messages not applied by their publisher (as
        records), the counts of those messages (stored, duplicates, rejected, seconds) and
        the store's last ``seq``.
        """
        started = time.perf_counter()
        before = store.last_seq()
        skew = self.settings.max_future_skew_s
        unapplied: set[str] = set()
        accepted = rejected = 0
        raw = [e for m in messages if m.key_id is None for e in m.events]
        if raw:
            frame = pd.DataFrame.from_records(raw, columns=list(EVENT_COLUMNS))
            report = ingest_events(store, frame, self.pseudonymizer, max_future_skew_s=skew)
            unapplied.update(i for i in report.event_ids if i is not None)
            accepted += report.accepted
            rejected += report.rejected
        for applied in (True, False):
            rows = [e for m in messages if m.key_id is not None and m.applied is applied
                    for e in m.events]
            if not rows:
                continue
            own = self._own_rows(messages) if applied else None
            if own is not None:  # this process prepared them: appended without a second check
                ingest_own_records(store, own, self.pseudonymizer.key_id)
                continue
            # As dicts, not a frame: a round of a few hundred rows takes the row-wise path
            # (byte-identical rows, tests/store/test_fast_path.py) instead of a fixed tens of
            # milliseconds of pandas validation that competes with the request path for the GIL.
            report = ingest_protected(store, rows, self.pseudonymizer.key_id, max_future_skew_s=skew)
            if report.rejected:
                log.warning("protected rows from the event log refused by the store",
                            rejected=report.rejected, reasons=[str(r) for r in report.rejections[:3]])
            if not applied:
                unapplied.update(i for i in report.event_ids if i is not None)
                accepted += report.accepted
                rejected += report.rejected
        new_rows = store.events_after(before) if unapplied else None
        fresh: list[dict[str, Any]] = []
        if new_rows is not None and len(new_rows):
            mine = new_rows[new_rows["event_id"].astype(str).isin(unapplied)]
            fresh = protected_records(mine.drop(columns=["seq"]))
        counts = (len(fresh), accepted - len(fresh), rejected, time.perf_counter() - started)
        return fresh, counts, store.last_seq()

    def _own_rows(self, messages: Sequence[StreamMessage]) -> list[dict[str, Any]] | None:
        """The applied rows of a round as this process's log writer published them, if it still
        holds every such message (:meth:`IngestGateway.take_published`), else None (check them)."""
        applied = [m for m in messages if m.key_id is not None and m.applied]
        held = self.gateway.take_published(m.message_id for m in applied)
        if len(held) < len(applied) or any(m.key_id != self.pseudonymizer.key_id for m in applied):
            return None
        return [r for m in applied for r in held[m.message_id]]

    def _on_acked(self, messages: Sequence[StreamMessage]) -> None:
        self.metrics.stream_messages.labels(self.source.backend).inc(len(messages))
        self.gateway.note_stored(m.message_id for m in messages)

    def _recent_ids(self, store: EventStore, limit: int = 500_000) -> int:
        """Seed the dedup index with the store's most recent event ids (on the store's thread)."""
        rows = store.connection.execute(
            "SELECT event_id FROM events ORDER BY seq DESC LIMIT ?", [limit]).fetchall()
        return self.seen.seed(str(r[0]) for r in reversed(rows))

    def _restore_from_store(self, store: Any) -> None:
        """Rebuild shopper histories from the stored events when they are behind the store.

        In-process state starts empty, so the sessions still open at the store's
        newest event are folded back into it too (Redis state survives a restart
        and is left alone unless it is empty). Runs on the store's thread, after the log's
        unacknowledged tail was stored.
        """
        try:
            last = store.last_seq()
            if self.histories.seq() >= last:
                return
            from shopintent.behaviour.shopper import shopper_records
            from shopintent.store import sessionise_frame

            stored = store.events()
            sessions = sessionise_frame(stored, self.settings.session_gap_minutes)
            clock = float(pd.to_datetime(sessions["timestamp"], utc=True).max().timestamp())
            open_after = clock - self.state.gap_s
            records = shopper_records(sessions, open_after, _live_session_ids(sessions))
            self.histories.replace(records, last)
            if self.state.clock() == 0.0:
                open_ids = {r.open_session for r in records.values() if r.open_session}
                live_rows = stored[stored["event_id"].isin(
                    sessions.loc[sessions["live_session_id"].isin(open_ids), "event_id"])]
                self.state.apply(live_events(live_rows))
            log.info("shopper histories restored", shoppers=len(records), seq=last)
        finally:
            self.history_restored.set()

    def _note_search_intents(self, records: list[dict[str, Any]], session_of: dict[str, str]) -> None:
        """The intent of what a shopper typed into search (scrubbed text) becomes a session signal."""
        if not self.models["text"].ready:
            return
        typed = [(str(r["event_id"]), str(r["query"])) for r in records
                 if r.get("query") is not None and str(r["event_id"]) in session_of]
        if not typed:
            return
        parsed_all = parse_texts(self.models["text"], [text for _, text in typed])
        for (event_id, _), parsed in zip(typed, parsed_all, strict=True):
            self._note_intent(session_of[event_id], parsed)

    def _note_intent(self, session_id: str, parsed: dict[str, Any]) -> None:
        intent = parsed.get("intent")
        if intent and intent != "oos":
            self.signals.set_intent(session_id, str(intent), float(parsed.get("confidence") or 0.0))

    # -- sessions -------------------------------------------------------------------------
    def resolve_session(self, session_id: str) -> LiveSessionState:
        """A live session by the id the service issued for it, and by nothing else.

        A client's own session id is not looked up (pseudonymised on the fly it
        would let anyone with a key probe whether a guessed id is live); the
        message does not echo the id either.
        """
        state = self.state.get(session_id)
        if state is None:
            raise SessionNotFound(
                "no live session with this id: address a session by the `session_id` that "
                "POST /v1/events returned for its events (the client's own session id is not "
                "accepted); a session also closes after the inactivity gap")
        return state

    def score(self, states: list[LiveSessionState]) -> list[dict[str, Any]]:
        """Behaviour scores for sessions (raises ModelUnavailable), each over its shopper's history."""
        slot = self.models["behaviour"]
        slot.get()
        return score_sessions(slot, states, [self.histories.get(s.user_id) for s in states])

    def live_sessions(self, limit: int, candidates: int = 60) -> tuple[list[dict[str, Any]], str | None]:
        """The most recent live sessions, ranked by purchase probability (else by recency)."""
        states = self.state.recent(max(limit, candidates))
        rows = [s.to_dict() for s in states]
        for row in rows:
            row.pop("events", None)
        try:
            scores = self.score(states)
        except ModelUnavailable as exc:
            return rows[:limit], exc.reason
        for row, score in zip(rows, scores, strict=True):
            row["scores"] = score
        # A session that already bought has no purchase probability left to rank by.
        rows.sort(key=lambda r: -(r["scores"].get("purchase_probability") or 0.0))
        return rows[:limit], None

    # -- decisions ------------------------------------------------------------------------
    def _decide_many(self, states: list[LiveSessionState], trigger: str) -> list[dict[str, Any]]:
        slot = self.models["intervene"]
        made = []
        # one batched model pass for the group's due sessions (what the engine reads: two scores)
        shoppers = [self.histories.get(s.user_id) for s in states]
        for state, score in zip(states, decision_scores(self.models["behaviour"], states, shoppers), strict=True):
            context = self._context(state, score)
            choice = intervene_adapter.decide(slot, context)
            choice["trigger"] = trigger
            made.append(choice)
            self._count_decision(state, choice)
        return made

    def _count_decision(self, state: LiveSessionState, choice: dict[str, Any]) -> None:
        """Every place that counts a made decision: metrics, dashboard stats, live group rates."""
        self.metrics.decisions.labels(choice["action"]).inc()
        self.stats.record_decision(choice["action"], choice["cost"])
        self.fairness.observe(state.user_id, choice["action"])

    def _context(self, state: LiveSessionState, score: dict[str, Any]) -> dict[str, Any]:
        """The engine's context: scores, the session's latest text intent and its risk score."""
        signal = self.signals.get(state.session_id)
        verdict = self.risk.verdict_for(state.session_id) if self.models["risk"].ready else None
        guard = self.models["intervene"].get().ledger.config.max_risk_for_coupon
        return intervene_adapter.context_for(state, score, intent=signal.get("intent") if signal else None,
                                             risk_score=intervene_adapter.risk_score(state, verdict, guard))

    def decide_for(self, session_id: str) -> dict[str, Any]:
        """Ask the engine for a session now; the engine logs the decision before returning it."""
        state = self.resolve_session(session_id)
        self.models["intervene"].get()
        score = self.score([state])[0]
        context = self._context(state, score)
        choice = intervene_adapter.decide(self.models["intervene"], context)
        choice["trigger"] = "api"
        self._count_decision(state, choice)
        return {**choice, "context": {k: (v.isoformat() if isinstance(v, datetime) else v)
                                      for k, v in context.items()}}

    def record_outcome(self, decision_id: str, kind: str, value: float,
                       timestamp: datetime | None) -> dict[str, Any]:
        joined = intervene_adapter.record_outcome(self.models["intervene"], decision_id, kind, value,
                                                  timestamp)
        if joined is None:
            raise DecisionNotFound(f"decision {decision_id!r} was not issued by this service's "
                                   "engine (decisions are known until the service restarts; with "
                                   "--state redis, to every worker for 24 hours)")
        self.metrics.outcomes.labels(kind).inc()
        self.stats.record_outcome(kind)
        return joined

    # -- text and recommendations ----------------------------------------------------------
    async def parse(self, text: str, session_id: str | None = None) -> dict[str, Any]:
        """Language, intent, slots, sentiment of one text (batched with concurrent requests).

        With ``session_id`` (an id the service issued) the intent becomes the
        session's latest text intent, which the decision engine sees.
        """
        state = self.resolve_session(session_id) if session_id is not None else None
        self.models["text"].get()  # fail fast with the reason when no model is loaded
        result = await self.intent_batcher(text)
        if state is not None:
            self._note_intent(state.session_id, result)
        language = str(result.get("language") or "unknown")
        intent = str(result.get("intent") or "unknown")
        self.stats.record_intent(language, intent)
        self.metrics.intents.labels(language).inc()
        return result

    async def assist(self, text: str, session_id: str, product_id: str | None = None) -> dict[str, Any]:
        """One message to the customer-service assistant (:mod:`shopintent.assist.live`): parsed as
        :meth:`parse` does (its intent becomes the session's latest), then answered."""
        state = self.resolve_session(session_id)
        parsed = await self.parse(text, session_id=session_id)
        return await self.assist_desk.reply(self, state, text, parsed, product_id)

    def recommend(self, session_id: str, k: int) -> tuple[LiveSessionState, list[dict[str, Any]]]:
        state = self.resolve_session(session_id)
        return state, recommend_items(self.models["recommend"], list(state.items), k)

