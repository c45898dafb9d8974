"""The running service without HTTP: writer, session state, streams, models, live stats.

:class:`Service` wires the pieces together and is what the routers call; tests
and the benchmark can drive it directly. It holds no business logic of its
own: ingest is :mod:`shopintent.store.ingest`, scores come from
:mod:`shopintent.behaviour`, decisions (with caps and their log) from
:mod:`shopintent.intervene`, all through :mod:`shopintent.serve.adapters`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from shopintent.log import get_logger
from shopintent.prepare.catalogue import not_prepared
from shopintent.privacy import Pseudonymizer
from shopintent.serve.adapters import intervene as intervene_adapter
from shopintent.serve.adapters.base import ModelSlot, ModelUnavailable
from shopintent.serve.adapters.behaviour import behaviour_slot, score_sessions
from shopintent.serve.adapters.recommend import recommend_items, recommend_slot
from shopintent.serve.adapters.text import parse_texts, text_slot
from shopintent.serve.batcher import MicroBatcher
from shopintent.serve.config import ServeConfig
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
from shopintent.serve.state.base import (
    LiveSessionState,
    LiveSessionStore,
    Transition,
    derived_session_id,
    live_events,
)
from shopintent.serve.state.history import (
    MemoryShopperHistory,
    NoShopperHistory,
    Observation,
    ShopperHistoryStore,
)
from shopintent.serve.state.memory import MemorySessionStore
from shopintent.serve.state.signals import MemorySessionSignals, SessionSignals
from shopintent.serve.streams.base import EventSource
from shopintent.serve.streams.consumer import StreamConsumer
from shopintent.serve.streams.memory import MemorySource
from shopintent.settings import Settings
from shopintent.store.ingest import prepare_events, protected_records

log = get_logger(__name__)

#: The order models are loaded in (cheapest first).
LOAD_ORDER = ("intervene", "behaviour", "recommend", "text")
#: How often loaded models' files are checked for a newer, better version (a promoted fine-tune).
MODEL_WATCH_S = 10.0
#: Event types after which a session is re-decided when ``auto_decide == "cart"``.
CART_EVENTS = frozenset({"add_to_cart", "remove_from_cart", "favourite"})


class SessionNotFound(LookupError):
    """No live state for the session id given."""


class DecisionNotFound(LookupError):
    """An outcome names a decision that this engine never issued."""


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


def _make_source(config: ServeConfig) -> EventSource:
    if config.stream == "redis":
        from shopintent.serve.streams.redis_streams import RedisStreamSource

        assert config.redis_url is not None
        return RedisStreamSource(config.redis_url, config.stream_name, config.consumer_group,
                                 consumer=config.consumer_name)
    return MemorySource()


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
        self.pseudonymizer = Pseudonymizer.from_settings(settings)
        self.state = _make_state(settings, config)
        self.histories = _make_history(config)
        self.signals = _make_signals(config)
        self.history_restored = threading.Event()
        self.models: dict[str, ModelSlot[Any]] = {
            "text": text_slot(settings),
            "behaviour": behaviour_slot(settings),
            "recommend": recommend_slot(settings),
            "intervene": intervene_adapter.intervene_slot(settings, config),
        }
        for name, slot in self.models.items():  # loads what `shopintent models prepare` wrote; never trains
            slot.requires = functools.partial(not_prepared, settings, name)
        self.gateway = IngestGateway(
            config.resolved_store_path(settings), self.pseudonymizer,
            on_stored=self._on_stored, on_counts=self._on_counts,
            max_future_skew_s=settings.max_future_skew_s,
        )
        self.source = _make_source(config)
        self.consumer = StreamConsumer(
            self.source, lambda events: self.gateway.submit(events, "stream").result(),
            on_acked=lambda n: self.metrics.stream_messages.labels(self.source.backend).inc(n),
            protected_sink=lambda rows: self.gateway.submit_protected(
                rows, self.pseudonymizer.key_id, "stream").result(),
            key_id=self.pseudonymizer.key_id,
        )
        self._stop = threading.Event()
        self._loader: threading.Thread | None = None
        # Looked up at call time: a test or a reload may replace the slot.
        self.intent_batcher: MicroBatcher[str, dict[str, Any]] = MicroBatcher(
            lambda texts: parse_texts(self.models["text"], texts), max_batch=32, name="intent-batcher")

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, load_models: bool = True) -> None:
        """Open the store and start the consumer; models load on a background thread.

        The service answers at once; endpoints that need a model answer 503
        ("loading") until it is ready, and missing models are retried every 30 s.
        """
        self.gateway.start()
        # Before any event is folded in: rebuild shopper histories (and, for in-process
        # state, the open sessions) from the store, on the writer thread that owns it.
        self.gateway.call(self._restore_from_store).result()
        self.consumer.start()
        if load_models:
            self._loader = threading.Thread(target=self._load_loop, name="model-loader", daemon=True)
            self._loader.start()
        log.info("service started", store=self.gateway.store_path, stream=self.source.backend,
                 state=self.config.state)

    def stop(self) -> None:
        self._stop.set()
        self.consumer.stop()
        self.gateway.stop()
        self.source.close()
        self.state.close()
        self.histories.close()
        self.signals.close()
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
        while not self._stop.is_set():
            self.refresh_models()
            everything = all(slot.ready for slot in self.models.values())
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

        Ready means the writer, the stream consumer and the shopper-history restore
        are up and every *needed* model is loaded. A service started with models
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
        parts = {"store": self.gateway.alive, "stream": self.consumer.alive,
                 "history": self.history_restored.is_set()}
        waiting = [name for name, m in models.items() if m["needed"] and not m["ready"]]
        return {"ready": all(parts.values()) and not waiting, **parts, "models": models,
                "waiting_for": waiting}

    # -- events ---------------------------------------------------------------------------
    async def ingest(self, records: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        return await self.gateway.ingest(records, "http")

    def publish(self, records: Sequence[Mapping[str, Any]]) -> PublishOutcome:
        """Validate and protect events, then put the valid ones on the stream (stored later).

        Nothing raw reaches the stream: each valid event is published as its
        protected row (pseudonyms, keyed ``event_id``, scrubbed text) with this
        service's key id, and the consumer stores it without protecting it
        twice. Invalid events are answered with the same per-event reasons as
        ``POST /v1/events`` and not published; if none is valid, nothing is.
        """
        prepared = prepare_events(records, self.pseudonymizer,
                                  max_future_skew_s=self.settings.max_future_skew_s)
        reasons = rejection_reasons(prepared.report.rejections)
        results = [EventResult(i, event_id, REJECTED, tuple(reasons[i])) if i in reasons
                   else EventResult(i, event_id, ACCEPTED)
                   for i, event_id in enumerate(prepared.event_ids)]
        message_id = None
        if len(prepared.protected):
            message_id = self.source.publish(protected_records(prepared.protected),
                                             key_id=self.pseudonymizer.key_id)
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
        m.events_per_second.set(self.stats.events.rate())

    def _on_stored(self, rows: pd.DataFrame, source: str) -> StoredEffects:
        """Runs on the gateway's effects thread after new events are stored: state, funnel, decisions."""
        events = live_events(rows)
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
        self.histories.observe(observations, int(rows["seq"].max()) if "seq" in rows else 0)
        self._note_search_intents(rows, session_of)
        decisions: dict[str, list[dict[str, Any]]] = {}
        due = self._due_for_decision(transitions, rows)
        if due:
            for d in self._decide_many(due, trigger="event"):
                decisions.setdefault(d["session_id"], []).append(d)
        return StoredEffects(session_of=session_of, decisions_by_session=decisions)

    def _due_for_decision(self, transitions: list[Transition], rows: pd.DataFrame) -> list[LiveSessionState]:
        mode = self.config.auto_decide
        if mode == "off" or not transitions or not (self.models["intervene"].ready
                                                    and self.models["behaviour"].ready):
            return []
        if mode == "every":
            return [t.state for t in transitions]
        cart_ids = set(rows.loc[rows["event_type"].isin(list(CART_EVENTS)), "event_id"].astype(str))
        return [t.state for t in transitions if cart_ids.intersection(t.event_ids)]

    def _restore_from_store(self, store: Any) -> None:
        """Rebuild shopper histories from the stored events when they are behind the store.

        In-process state starts empty, so the sessions still open at the store's
        newest event are folded back into it too (Redis state survives a restart
        and is left alone unless it is empty). Runs on the writer thread.
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

    def _note_search_intents(self, rows: pd.DataFrame, session_of: dict[str, str]) -> None:
        """The intent of what a shopper typed into search (scrubbed text) becomes a session signal."""
        if "query" not in rows or not self.models["text"].ready:
            return
        typed = rows[rows["query"].notna() & rows["event_id"].astype(str).isin(session_of)]
        if typed.empty:
            return
        texts = typed["query"].astype(str).tolist()
        for event_id, parsed in zip(typed["event_id"].astype(str), parse_texts(self.models["text"], texts),
                                    strict=True):
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
        for state, score in zip(states, self.score(states), strict=True):
            context = self._context(state, score)
            choice = intervene_adapter.decide(slot, context)
            choice["trigger"] = trigger
            made.append(choice)
            self.metrics.decisions.labels(choice["action"]).inc()
            self.stats.record_decision(choice["action"], choice["cost"])
        return made

    def _context(self, state: LiveSessionState, score: dict[str, Any]) -> dict[str, Any]:
        """The engine's context: scores, the session's latest text intent and its risk score."""
        signal = self.signals.get(state.session_id)
        return intervene_adapter.context_for(state, score, intent=signal.get("intent") if signal else None,
                                             risk_score=intervene_adapter.risk_score(state))

    def decide_for(self, session_id: str) -> dict[str, Any]:
        """Ask the engine for a session now; the engine logs the decision before returning it."""
        state = self.resolve_session(session_id)
        self.models["intervene"].get()
        score = self.score([state])[0]
        context = self._context(state, score)
        choice = intervene_adapter.decide(self.models["intervene"], context)
        choice["trigger"] = "api"
        self.metrics.decisions.labels(choice["action"]).inc()
        self.stats.record_decision(choice["action"], choice["cost"])
        return {**choice, "context": {k: (v.isoformat() if isinstance(v, datetime) else v)
                                      for k, v in context.items()}}

    def record_outcome(self, decision_id: str, kind: str, value: float,
                       timestamp: datetime | None) -> dict[str, Any]:
        joined = intervene_adapter.record_outcome(self.models["intervene"], decision_id, kind, value,
                                                  timestamp)
        if joined is None:
            raise DecisionNotFound(f"decision {decision_id!r} was not issued by this service's "
                                   "engine (decisions are known until the service restarts)")
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

    def recommend(self, session_id: str, k: int) -> tuple[LiveSessionState, list[dict[str, Any]]]:
        state = self.resolve_session(session_id)
        return state, recommend_items(self.models["recommend"], list(state.items), k)

