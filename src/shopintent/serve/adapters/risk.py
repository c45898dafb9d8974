"""Risk verdicts in the service: every stored event's session and every posted transaction.

The ``risk`` slot loads what ``shopintent models prepare`` wrote
(:mod:`shopintent.risk.default`). :class:`LiveRisk` runs in the effects
stage, after session state is folded and before decisions: each session a
write group touched gets a verdict (anomaly score over its events so far,
reasons, action), kept per session id so ``GET /v1/sessions/{id}`` shows it
and the decision engine's guardrail reads it (:func:`engine_risk_level`).
Transactions (``POST /v1/risk/transactions``) are scored at once with the
fraud model and the shop's rules. Every transaction verdict and every session
verdict that turns to review/hold/block is appended to the verdict log with
pseudonymised ids only; a ``hold`` is also sent to the webhook when one is
configured (:mod:`shopintent.risk.notify`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter

from shopintent.log import get_logger
from shopintent.privacy import Pseudonymizer
from shopintent.serve.adapters.base import ModelSlot
from shopintent.serve.config import ServeConfig
from shopintent.serve.state.base import LiveSessionState
from shopintent.settings import Settings

log = get_logger(__name__)

#: Actions, mildest first (as :data:`shopintent.risk.verdict.ACTIONS`).
ACTIONS = ("allow", "review", "hold", "block")
KINDS = ("session", "transaction")
#: Optional id fields a transaction may carry; pseudonymised before anything is kept.
ID_FIELDS = {"transaction_id": "transaction", "user_id": "user", "session_id": "session"}
#: How many holds the dashboard lists.
RECENT_HOLDS = 20


def risk_slot(settings: Settings) -> ModelSlot[Any]:
    """The default risk models and the shop's rule file (trained by ``shopintent models prepare``)."""

    def load() -> tuple[Any, dict[str, Any]]:
        from shopintent.risk.default import load_default_risk

        risk = load_default_risk(settings, train_missing=False)
        model = risk.transactions.model
        card = {"version": f"sessions:{len(risk.sessions.trees)}trees+transactions:{model.kind}",
                "model_id": "risk:default",
                "session_thresholds": _thresholds(risk.sessions.thresholds),
                "transaction_thresholds": _thresholds(risk.transactions.thresholds),
                "rules": len(risk.rules), "rules_source": risk.rules_source.name}
        return risk, card

    return ModelSlot("risk", load)


def _thresholds(t: Any) -> dict[str, float]:
    return {"review": round(t.review, 4), "hold": round(t.hold, 4), "block": round(t.block, 4)}


def engine_risk_level(verdict: Mapping[str, Any] | None, max_risk_for_coupon: float) -> float | None:
    """The engine's ``risk_score`` from a session verdict: hold and block at or above the guardrail.

    Allowed sessions map below half the guardrail, review between half and the
    guardrail, hold and block from the guardrail up to 1, each rising with the
    anomaly score within its band (``level``); ``None`` when there is no verdict.
    """
    if not verdict:
        return None
    bands = {"allow": (0.0, 0.5 * max_risk_for_coupon), "review": (0.5 * max_risk_for_coupon, max_risk_for_coupon),
             "hold": (max_risk_for_coupon, 0.5 * (1.0 + max_risk_for_coupon)),
             "block": (0.5 * (1.0 + max_risk_for_coupon), 1.0)}
    low, high = bands.get(str(verdict.get("action")), bands["allow"])
    level = min(max(float(verdict.get("level", 0.0)), 0.0), 1.0)
    return low + (high - low) * level


def _level(score: float, t: Any) -> float:
    """Where ``score`` lies within its action's band of thresholds (0 at the band's start)."""
    edges = [(0.0, t.review), (t.review, t.hold), (t.hold, t.block), (t.block, max(t.block * 1.5, t.block + 1e-9))]
    for low, high in edges:
        if score < high:
            return max(0.0, (score - low) / max(high - low, 1e-12))
    return 1.0


class SessionVerdicts:
    """The latest verdict per session id: in-process (bounded) or in Redis (shared by workers)."""

    def __init__(self, config: ServeConfig | None = None, max_sessions: int = 100_000,
                 ttl_s: int = 86_400 * 14) -> None:
        self.max_sessions, self.ttl_s = max_sessions, ttl_s
        self._memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._redis = None
        if config is not None and config.state == "redis" and config.redis_url:
            import redis

            self._prefix = config.stream_name + ":state:risk:"
            self._redis = redis.Redis.from_url(config.redis_url, socket_timeout=5.0, decode_responses=True)

    def set_many(self, verdicts: Mapping[str, dict[str, Any]]) -> None:
        """Keep each session's verdict (replacing the previous one)."""
        if self._redis is not None:
            pipe = self._redis.pipeline(transaction=False)
            for sid, verdict in verdicts.items():
                pipe.set(self._prefix + sid, json.dumps(verdict), ex=self.ttl_s)
            pipe.execute()
            return
        with self._lock:
            for sid, verdict in verdicts.items():
                self._memory[sid] = verdict
                self._memory.move_to_end(sid)
            while len(self._memory) > self.max_sessions:
                self._memory.popitem(last=False)

    def get(self, session_id: str) -> dict[str, Any] | None:
        """The session's latest verdict, or None before its first scored event."""
        if self._redis is not None:
            found = self._redis.get(self._prefix + session_id)
            return json.loads(found) if found else None
        with self._lock:
            found = self._memory.get(session_id)
            return dict(found) if found else None

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


class RiskSummary:
    """What the dashboard's risk panel shows: verdicts by kind and action, top reasons, recent holds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.actions: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
        self.reasons: Counter[str] = Counter()
        self.holds: deque[dict[str, Any]] = deque(maxlen=RECENT_HOLDS)

    def record(self, kind: str, verdicts: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            for v in verdicts:
                self.actions[kind][v["action"]] += 1
                if v["action"] != "allow":
                    self.reasons.update(reason_keys(v))
                if v["action"] in ("hold", "block"):
                    self.holds.appendleft({"kind": kind, "id": v.get("id"), "action": v["action"],
                                           "score": round(float(v["score"]), 4),
                                           "reasons": list(v.get("reasons", []))[:3], "at": v.get("at")})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {}
            for kind in KINDS:
                counts = {a: int(self.actions[kind][a]) for a in ACTIONS}
                total = sum(counts.values())
                out[kind] = {"verdicts": total, "actions": counts,
                             "risk_rate": (counts["hold"] + counts["block"]) / total if total else 0.0}
            out["held"] = sum(int(self.actions[k]["hold"]) for k in KINDS)
            out["top_reasons"] = [{"reason": r, "count": n} for r, n in self.reasons.most_common(5)]
            out["recent_holds"] = list(self.holds)
            return out


def reason_keys(verdict: Mapping[str, Any]) -> list[str]:
    """Short keys of a verdict's reasons (the feature or ``rule <name>``), for counting."""
    keys = [f"rule {name}" for name in verdict.get("rules", [])]
    for text in verdict.get("reasons", []):
        if text.startswith("rule "):
            continue
        keys.append(text.split(" ", 1)[0].split("=", 1)[0])
    return keys


class RiskMetrics:
    """Prometheus counters of risk verdicts, on the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.verdicts = PromCounter("shopintent_risk_verdicts_total", "Risk verdicts, by kind and action.",
                                    ["kind", "action"], registry=registry)
        self.reasons = PromCounter("shopintent_risk_reasons_total",
                                   "Reasons of review/hold/block verdicts (feature or rule).",
                                   ["reason"], registry=registry)
        self.notifications = PromCounter("shopintent_risk_hold_notifications_total",
                                         "Hold notices queued for the webhook.", registry=registry)
        self.rejected = PromCounter("shopintent_risk_rejected_total",
                                    "Transactions refused as malformed (not scored).", registry=registry)
        self._known_reasons: set[str] = set()

    def record(self, kind: str, verdicts: Sequence[Mapping[str, Any]]) -> None:
        for v in verdicts:
            self.verdicts.labels(kind, v["action"]).inc()
            if v["action"] != "allow":
                for key in reason_keys(v):
                    # bounded: feature names and the shop's rule names; anything past 100 is "other"
                    if key not in self._known_reasons and len(self._known_reasons) >= 100:
                        key = "other"
                    self._known_reasons.add(key)
                    self.reasons.labels(key).inc()


class LiveRisk:
    """The service's risk step: session verdicts in the effects stage, transactions on request."""

    def __init__(self, settings: Settings, config: ServeConfig, pseudonymizer: Pseudonymizer,
                 registry: CollectorRegistry) -> None:
        from shopintent.risk.notify import HoldNotifier
        from shopintent.risk.verdict_log import VerdictLog, default_log_path

        self.pseudonymizer = pseudonymizer
        self.sessions = SessionVerdicts(config)
        self.summary = RiskSummary()
        self.metrics = RiskMetrics(registry)
        self.log = VerdictLog(default_log_path(settings))
        self.notifier = HoldNotifier(settings.risk_webhook_url)
        # Sessions touched by a write group whose verdict nobody reads before the answer
        # (see `defer`): the latest state per session, and the slot to score them with.
        self._pending: dict[str, LiveSessionState] = {}
        self._pending_slot: ModelSlot[Any] | None = None
        self._settling = threading.RLock()

    # -- sessions --------------------------------------------------------------------------
    def on_sessions(self, slot: ModelSlot[Any], states: Sequence[LiveSessionState]) -> dict[str, dict[str, Any]]:
        """Score the sessions a write group touched; keep, count and log their verdicts.

        Nothing happens while the risk model is not loaded (the engine then falls
        back to its bot-rate heuristic).
        """
        if not states or not slot.ready:
            return {}
        with self._settling:
            for state in states:  # scored now: a deferred older state of the same session is stale
                self._pending.pop(state.session_id, None)
            try:
                return self._on_sessions(slot, states)
            except Exception as exc:  # noqa: BLE001 - the events are stored; a risk failure must not undo that
                log.warning("session risk scoring failed", error=type(exc).__name__, detail=str(exc)[:200])
                return {}

    def defer(self, slot: ModelSlot[Any], states: Sequence[LiveSessionState]) -> None:
        """Queue sessions to score after the write group's answer has gone out.

        Why: scoring every touched session is the largest part of the effects stage, and
        the answer to ``POST /v1/events`` waits for that stage. Only a session about to
        get a decision needs its verdict first (the engine's guardrail reads it, so the
        service scores those with :meth:`on_sessions`); the others are scored by
        :meth:`settle`, which the gateway runs right after the answers, and which every
        reader of a verdict runs first (:meth:`verdict_for`, :meth:`summary_snapshot`).
        The verdicts are the same, from the same states; they are only later.
        """
        if not states or not slot.ready:
            return
        with self._settling:
            self._pending_slot = slot
            for state in states:
                self._pending[state.session_id] = state

    def settle(self) -> dict[str, dict[str, Any]]:
        """Score the deferred sessions now (a no-op when none are waiting)."""
        with self._settling:
            if not self._pending or self._pending_slot is None:
                return {}
            states = list(self._pending.values())
            self._pending.clear()
            return self.on_sessions(self._pending_slot, states)

    def summary_snapshot(self) -> dict[str, Any]:
        """The dashboard's risk panel, after any deferred session has been scored."""
        self.settle()
        return self.summary.snapshot()

    def _on_sessions(self, slot: ModelSlot[Any], states: Sequence[LiveSessionState]) -> dict[str, dict[str, Any]]:
        risk = slot.get()
        scorer = risk.sessions
        scored = scorer.live_verdicts([(s.session_id, s.events) for s in states])
        now = time.time()
        out: dict[str, dict[str, Any]] = {}
        for state in states:
            v = scored.get(state.session_id)
            if v is None:
                continue
            out[state.session_id] = {"id": state.session_id, "score": round(v.score, 6), "action": v.action,
                                     "level": round(_level(v.score, scorer.thresholds), 4),
                                     "reasons": v.reasons, "rules": v.rules, "events": state.n_events,
                                     "at": now}
        changed = []
        for sid, verdict in out.items():
            before = self.sessions.get(sid) if verdict["action"] != "allow" else None
            if verdict["action"] != "allow" and (before is None or before.get("action") != verdict["action"]):
                changed.append(verdict)
        self.sessions.set_many(out)
        verdicts = list(out.values())
        self.summary.record("session", verdicts)
        self.metrics.record("session", verdicts)
        if changed:
            self._log_and_notify("session", changed)
        return out

    # -- transactions ----------------------------------------------------------------------
    def score_transactions(self, slot: ModelSlot[Any], records: Sequence[Any]) -> list[dict[str, Any]]:
        """One result per record, in order: a verdict, or ``rejected`` with the reason naming the field.

        Raises :class:`~shopintent.serve.adapters.base.ModelUnavailable` while the model is not loaded.
        """
        risk = slot.get()
        scorer = risk.transactions
        now = time.time()
        results: list[dict[str, Any]] = []
        verdicts: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            problem = scorer.check(record)
            ids = self._ids(record) if isinstance(record, Mapping) else {}
            if problem is None and isinstance(ids, str):
                problem = ids
            if problem is not None:
                results.append({"index": index, "status": "rejected", "reason": problem})
                self.metrics.rejected.inc()
                continue
            assert isinstance(ids, dict)
            v = scorer.score(record)
            verdict = {"index": index, "status": "scored", "id": ids.get("transaction_id"), **ids,
                       "score": round(v.score, 6), "action": v.action, "reasons": v.reasons,
                       "rules": v.rules, "at": now}
            results.append(verdict)
            verdicts.append(verdict)
        self.summary.record("transaction", verdicts)
        self.metrics.record("transaction", verdicts)
        self._log_and_notify("transaction", verdicts)
        return results

    def _ids(self, record: Mapping[str, Any]) -> dict[str, str] | str:
        """Pseudonyms of the record's optional ids, or why one is unusable (naming the field)."""
        out = {}
        for name, namespace in ID_FIELDS.items():
            value = record.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
                return f"`{name}` {value!r} is not an id (text or an integer)"
            out[name] = self.pseudonymizer.pseudonymize(str(value), namespace)
        return out

    # -- log, notify -----------------------------------------------------------------------
    def _log_and_notify(self, kind: str, verdicts: Sequence[Mapping[str, Any]]) -> None:
        """Append the verdicts (ids already pseudonymised), then queue a notice per hold."""
        if not verdicts:
            return
        keep = ("id", "transaction_id", "user_id", "session_id", "score", "action", "reasons", "rules", "events")
        self.log.append({"kind": kind, "at": v["at"], **{k: v[k] for k in keep if k in v}} for v in verdicts)
        for v in verdicts:
            if v["action"] == "hold":
                self.metrics.notifications.inc()
                self.notifier.notify({"type": "risk.hold", "kind": kind,
                                      **{k: v[k] for k in keep if k in v}, "at": v["at"]})

    def verdict_for(self, session_id: str) -> dict[str, Any] | None:
        """A session's latest verdict (``None`` before its first scored event)."""
        if session_id in self._pending:
            self.settle()
        return self.sessions.get(session_id)

    def close(self) -> None:
        self.settle()  # a verdict deferred just before the stop is still scored, logged and kept
        self.notifier.close()
        self.log.close()
        self.sessions.close()
