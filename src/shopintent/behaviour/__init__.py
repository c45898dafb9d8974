"""Behavioural intent: purchase, cart abandonment and next action from what shoppers do.

Public API (the HTTP service and the CLI use these):

- :class:`SessionScorer` — ``update(event) -> Score`` for a live session, with reasons;
- :func:`load_default_scorer` — a scorer over models trained on the Taobao log (cached);
- :func:`load_serving_models` — the same models loaded for scoring only, without scikit-learn
  or LightGBM (:class:`EventIntentScorer`; what the service runs);
- :class:`EventIntentModel` — LightGBM prefix models for ``purchase`` / ``abandon`` / ``next-action``;
- :class:`SessionPurchaseModel` — session-level purchase model on aggregated sessions (UCI);
- :class:`SequenceIntentModel` — the GRU over event sequences;
- :class:`RepeatPurchaseModel` — per-customer future purchases (CDNOW), beside BG/NBD.

A live session scored event by event with models fitted on real Taobao sessions
(``load_default_scorer(settings)`` gives the same over the prepared default models):

>>> from shopintent.behaviour import EventIntentModel, SessionScorer
>>> from shopintent.samples import taobao_sessions
>>> events = taobao_sessions(5000)
>>> models = {task: EventIntentModel(task=task, n_estimators=30, max_k=5).fit(events)
...           for task in ("purchase", "abandon")}
>>> scorer = SessionScorer(models)
>>> first = events.iloc[0]
>>> score = scorer.update({"event_type": "view", "timestamp": first["timestamp"],
...                        "item_id": first["item_id"], "category_id": first["category_id"]})
>>> score.k, 0.0 <= score.purchase_probability <= 1.0, score.abandonment_risk
(1, True, None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopintent.behaviour.default import load_default_models, load_default_scorer, load_serving_models
    from shopintent.behaviour.event_models import EventIntentModel
    from shopintent.behaviour.event_scoring import EventIntentScorer
    from shopintent.behaviour.features import SessionFeatureState, UserHistory
    from shopintent.behaviour.repeat import RepeatPurchaseModel
    from shopintent.behaviour.scorer import Reason, Score, SessionScorer
    from shopintent.behaviour.sequence import SequenceIntentModel
    from shopintent.behaviour.session_purchase import SessionPurchaseModel

# Imported lazily: LightGBM and torch are heavy, and most callers need one of these only.
_EXPORTS = {
    "load_default_models": "default", "load_default_scorer": "default",
    "load_serving_models": "default", "EventIntentScorer": "event_scoring",
    "EventIntentModel": "event_models", "SessionFeatureState": "features", "UserHistory": "features",
    "RepeatPurchaseModel": "repeat", "Reason": "scorer", "Score": "scorer",
    "SessionScorer": "scorer", "SequenceIntentModel": "sequence",
    "SessionPurchaseModel": "session_purchase",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'shopintent.behaviour' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"shopintent.behaviour.{_EXPORTS[name]}"), name)
