"""Live session scores (purchase probability, abandonment risk, next action, reasons).

:class:`shopintent.behaviour.SessionScorer` is incremental: one scorer holds
one session. The service keeps sessions in shared state (possibly Redis, for
stateless workers), so it re-plays a session's events into a reused scorer
when it needs a score — O(events in the session), about a millisecond for a
typical session — instead of keeping a scorer object per session.

The replay starts from the shopper's history of earlier sessions
(:class:`~shopintent.behaviour.shopper.ShopperRecord`, kept by
:mod:`shopintent.serve.state.history`), so the ``prior_*`` features are the
ones the models were trained with; ``tests/serve/test_parity.py`` replays real
Taobao events through the HTTP service and checks every score against offline
scoring of the same prefix.
"""

from __future__ import annotations

import threading
from typing import Any

from shopintent.behaviour.reasons import describe
from shopintent.behaviour.shopper import ShopperRecord
from shopintent.serve.adapters.base import ModelSlot, import_or_unavailable
from shopintent.serve.adapters.convert import plain
from shopintent.serve.state.base import LiveSessionState
from shopintent.settings import Settings


class ReplayScorer:
    """Scores a :class:`LiveSessionState` by replaying its events into one reused scorer."""

    def __init__(self, scorer: Any) -> None:
        self._scorer = scorer
        self._lock = threading.Lock()

    @property
    def utc_offset_hours(self) -> float:
        return float(self._scorer.utc_offset_hours)

    def _behaviour_state(self, state: LiveSessionState, shopper: ShopperRecord | None) -> tuple[Any, str]:
        """The session's behaviour feature state and where its history came from."""
        if shopper is not None and shopper.open_session == state.session_id and shopper.open_events:
            return shopper.session_state(self.utc_offset_hours), "shopper"
        events = sorted(state.events, key=lambda e: e[1])
        if not events:
            raise ValueError(f"session {state.session_id} has no events to score")
        behaviour_state = ShopperRecord(open_session=state.session_id, open_events=[
            (str(t), float(ts), item, cat) for t, ts, item, cat in events
        ]).session_state(self.utc_offset_hours)
        return behaviour_state, "unavailable" if shopper is not None else "new_shopper"

    def score(self, state: LiveSessionState, shopper: ShopperRecord | None = None) -> dict[str, Any]:
        """Score ``state``; ``shopper`` (its user's record) supplies the history and the full
        open session. A session that is no longer its shopper's open one (it has been closed
        by a later session) is replayed from its own kept events without history, and says so
        (``history: "unavailable"``)."""
        behaviour_state, history = self._behaviour_state(state, shopper)
        with self._lock:
            self._scorer.state = behaviour_state
            result = self._scorer.score()
        out = plain(result.as_dict() if hasattr(result, "as_dict") else result)
        for reason in out.get("reasons") or []:
            reason["text"] = describe(reason)  # "3 items in the cart ↑", beside the feature name
        out["events_scored"] = behaviour_state.k
        out["history"] = history
        return out

    def decision_scores(self, states: list[LiveSessionState],
                        shoppers: list[ShopperRecord | None]) -> list[dict[str, Any]]:
        """What the decision engine reads of each session (purchase probability, abandonment
        risk; the values :meth:`score` gives), one model call per task for all of them."""
        from shopintent.intervene.behaviour_scoring import decision_scores

        prepared = [self._behaviour_state(s, h)[0] for s, h in zip(states, shoppers, strict=True)]
        with self._lock:
            scored = decision_scores(self._scorer, prepared)
        return [{"purchase_probability": p, "abandonment_risk": a, "events_scored": b.k}
                for (p, a), b in zip(scored, prepared, strict=True)]


def behaviour_model_id(models: dict[str, Any]) -> str:
    """The served behaviour models' id: their class(es), LightGBM, trained on Taobao
    (``behaviour.default`` trains one LightGBM model per task on the Taobao log only)."""
    kinds = "+".join(sorted({getattr(m, "estimator_name", type(m).__name__) for m in models.values()}))
    return f"behaviour:{kinds}(lightgbm)@taobao"


def behaviour_slot(settings: Settings) -> ModelSlot[ReplayScorer]:
    """The default event models of :mod:`shopintent.behaviour` (trained on Taobao, cached)."""

    def load() -> tuple[ReplayScorer, dict[str, Any]]:
        load_models, scorer_cls = import_or_unavailable(
            "behaviour", "shopintent.behaviour", ("load_serving_models", "SessionScorer"),
            "issue: behaviour")
        models = load_models(settings)
        scorer = scorer_cls(models, n_reasons=3)
        card: dict[str, Any] = {"version": "default", "tasks": sorted(models),
                                "model_id": behaviour_model_id(models)}
        for task, model in models.items():
            card[task] = {k: getattr(model, k) for k in ("n_train_",) if hasattr(model, k)}
        return ReplayScorer(scorer), plain(card)

    return ModelSlot("behaviour", load)


def score_sessions(slot: ModelSlot[ReplayScorer], states: list[LiveSessionState],
                   shoppers: list[ShopperRecord | None]) -> list[dict[str, Any]]:
    """One score record per session, in order (``shoppers``: each session's shopper record)."""
    scorer = slot.get()
    return [scorer.score(s, h) for s, h in zip(states, shoppers, strict=True)]


def decision_scores(slot: ModelSlot[ReplayScorer], states: list[LiveSessionState],
                    shoppers: list[ShopperRecord | None]) -> list[dict[str, Any]]:
    """:func:`score_sessions` reduced to what the decision engine reads, in one batched pass."""
    return slot.get().decision_scores(states, shoppers)
