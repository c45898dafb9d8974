"""Intervention decisions from :class:`shopintent.intervene.DecisionEngine`.

The engine applies caps, samples an action, and appends the decision with its
propensity to its own decision log before returning; this adapter only builds
the engine's :class:`DecisionContext` from a live session and its scores, and
gives the engine the Redis cap ledger when the service keeps its state in
Redis (several workers then share one budget and one set of frequency caps).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shopintent.serve.adapters.base import ModelSlot, ModelUnavailable, import_or_unavailable
from shopintent.serve.adapters.convert import plain
from shopintent.serve.config import ServeConfig
from shopintent.serve.state.base import LiveSessionState
from shopintent.settings import Settings


def intervene_slot(settings: Settings, config: ServeConfig | None = None) -> ModelSlot[Any]:
    """The default decision engine (saved policy if any, log under the state folder).

    With ``config.state == "redis"`` its cap ledger and issued-decision ids live
    in that Redis under the stream name, so every worker of the service charges
    the same budget and caps and any worker can join an outcome to a decision.
    """

    def load() -> tuple[Any, dict[str, Any]]:
        (loader,) = import_or_unavailable("intervene", "shopintent.intervene",
                                          ("load_default_engine",), "issue: intervene")
        shared: dict[str, Any] = {}
        if config is not None and config.state == "redis" and config.redis_url:
            from shopintent.intervene.shared_caps import RedisCapLedger, RedisIssuedDecisions

            prefix = config.stream_name + ":"
            shared = {"ledger": RedisCapLedger(config.redis_url, prefix=prefix),
                      "issued": RedisIssuedDecisions(config.redis_url, prefix=prefix)}
        engine = loader(settings, **shared)
        caps = engine.ledger.config
        card = {"version": str(engine.policy.version), "model_id": f"intervene:{engine.policy.version}",
                "daily_budget": caps.daily_budget,
                "ledger": "redis" if shared else "process",
                "actions": [a.name for a in engine.actions],
                "log": str(engine.log.path) if engine.log is not None else None}
        return engine, card

    return ModelSlot("intervene", load)


def risk_score(state: LiveSessionState, verdict: Mapping[str, Any] | None = None,
               max_risk_for_coupon: float = 0.5) -> float:
    """The session's risk score for the engine's guardrail: its live risk verdict, mapped so that
    ``hold`` and ``block`` reach ``max_risk_for_coupon`` (no coupon); the bot-rate heuristic only
    while the risk model is not loaded (no verdict)."""
    from shopintent.serve.adapters.risk import engine_risk_level

    level = engine_risk_level(verdict, max_risk_for_coupon)
    if level is not None:
        return level
    from shopintent.intervene.scoring import bot_risk_score

    return bot_risk_score(state.n_events, state.duration_s)


def context_for(state: LiveSessionState, score: dict[str, Any] | None,
                intent: str | None = None, risk_score: float = 0.0) -> dict[str, Any]:
    """The engine's context for a session: scores (a shopper who bought has p = 1, an empty cart
    has no abandonment risk), cart value, the latest text intent, the risk score and the
    session's last event time."""
    if score is None:
        raise ModelUnavailable("behaviour", "session scores are needed to decide and the behaviour "
                               "model is not loaded")
    purchase = score.get("purchase_probability")
    abandon = score.get("abandonment_risk")
    return {
        "user_id": state.user_id,
        "session_id": state.session_id,
        "purchase_probability": 1.0 if purchase is None else min(max(float(purchase), 0.0), 1.0),
        "abandonment_risk": 0.0 if abandon is None else min(max(float(abandon), 0.0), 1.0),
        "cart_value": max(float(state.cart_value), 0.0),
        "intent": intent,
        "risk_score": min(max(float(risk_score), 0.0), 1.0),
        "timestamp": datetime.fromtimestamp(state.last, UTC),
    }


def decide(slot: ModelSlot[Any], context: dict[str, Any]) -> dict[str, Any]:
    """The engine's choice: decision fields plus the probabilities, blocks and reserved cost."""
    engine = slot.get()
    detail = engine.decide_detailed(context)
    decision = detail.decision
    return {
        "decision_id": decision.decision_id,
        "session_id": decision.session_id,
        "user_id": decision.user_id,
        "action": decision.action,
        "propensity": float(decision.propensity),
        "policy_version": str(decision.policy_version),
        "cost": float(detail.reserved_cost),
        "probabilities": plain(detail.probabilities),
        "blocked": plain(detail.blocked),
    }


def record_outcome(slot: ModelSlot[Any], decision_id: str, kind: str, value: float,
                   timestamp: datetime | None) -> dict[str, Any] | None:
    """Log an outcome against a decision; None when the engine never issued that decision."""
    engine = slot.get()
    import shopintent.intervene as intervene

    try:
        outcome = engine.record_outcome(decision_id, kind, value, timestamp)
    except intervene.UnknownDecision:
        return None
    return {"decision_id": outcome.decision_id, "kind": outcome.kind, "value": outcome.value,
            "timestamp": outcome.timestamp}
