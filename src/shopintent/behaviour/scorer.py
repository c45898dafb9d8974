"""Score a live, partial session one event at a time, with the reasons behind the score.

Why a separate class: serving needs O(1) work per event. :class:`SessionScorer`
keeps one :class:`~shopintent.behaviour.features.SessionFeatureState` per session,
updates it with each event (the same code that built the training rows) and
runs each LightGBM booster on that single row.

Reasons are per-feature contributions to the purchase log-odds. LightGBM's
exact TreeSHAP (``pred_contrib``) costs about a millisecond per row, too slow
for every click, so the scorer uses the path attribution of Saabas (each
split's change in the node's expected value goes to the split's feature,
precomputed per leaf), which sums exactly to the raw score and comes from the
same tree pass that gives the probability. Exact
SHAP stays one call away: ``EventIntentModel.contributions``.

>>> scorer = SessionScorer(models)                                              # doctest: +SKIP
>>> scorer.update({"event_type": "view", "timestamp": "2017-12-03T10:00:00Z",   # doctest: +SKIP
...                "item_id": "42", "category_id": "7"}).purchase_probability
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shopintent.behaviour.features import ACTIONS, FEATURE_NAMES, N_FEATURES, SessionFeatureState, UserHistory
from shopintent.schema.records import Event

if TYPE_CHECKING:
    from shopintent.behaviour.event_models import EventIntentModel
    from shopintent.behaviour.event_scoring import EventIntentScorer


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature's push on the purchase score (log-odds), with its current value.

    ``value`` is ``None`` where the feature is undefined so far (e.g. the
    hours since a previous session for a first-time shopper).
    """

    feature: str
    value: float | None
    contribution: float

    def as_dict(self) -> dict[str, float | str | None]:
        return {"feature": self.feature, "value": self.value, "contribution": self.contribution}


@dataclass(frozen=True, slots=True)
class Score:
    """What the models say after the latest event of a session.

    ``abandonment_risk`` is ``None`` while the session has nothing in its
    cart (there is nothing to abandon). ``next_action`` maps each action to
    the probability it occurs among the next few events.
    """

    k: int
    purchase_probability: float | None
    abandonment_risk: float | None
    next_action: dict[str, float] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"k": self.k, "purchase_probability": self.purchase_probability,
                "abandonment_risk": self.abandonment_risk, "next_action": dict(self.next_action),
                "reasons": [r.as_dict() for r in self.reasons]}


def _seconds(timestamp: Any) -> float:
    if isinstance(timestamp, int | float):
        return float(timestamp)
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError(f"timestamp {timestamp!r} has no time zone; pass UTC-aware datetimes")
        return timestamp.timestamp()
    try:
        stamp = pd.Timestamp(timestamp)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`timestamp` {timestamp!r} is not a date") from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.timestamp()


class SessionScorer:
    """Incremental scorer for one session: ``update(event) -> Score``.

    ``models`` maps task (``purchase``, ``abandon``, ``next-action``) to a
    fitted :class:`EventIntentModel` or one loaded for scoring
    (:class:`~shopintent.behaviour.event_scoring.EventIntentScorer`, as the service does);
    any may be missing. ``history`` is the
    shopper's earlier sessions (empty for an unknown shopper).
    ``n_reasons`` top reasons come with each score.
    """

    def __init__(self, models: Mapping[str, EventIntentModel | EventIntentScorer], history: UserHistory | None = None,
                 n_reasons: int = 3) -> None:
        self.models = dict(models)
        offsets = {m.utc_offset_hours for m in self.models.values()}
        if len(offsets) > 1:
            raise ValueError(f"models disagree on utc_offset_hours ({sorted(offsets)}); "
                             "train them with one setting")
        self.utc_offset_hours = offsets.pop() if offsets else 0.0
        self.n_reasons = n_reasons
        self.state = SessionFeatureState(history, self.utc_offset_hours)
        self._row = np.zeros((1, N_FEATURES))
        purchase = self.models.get("purchase")
        self._explainer = purchase.explainer() if purchase is not None and n_reasons > 0 else None

    def update(self, event: Event | Mapping[str, Any]) -> Score:
        """Add one event (an :class:`Event` or a mapping with the same fields) and score."""
        if isinstance(event, Event):
            kind, ts, item, cat = str(event.event_type), event.timestamp, event.item_id, event.category_id
        else:
            if "event_type" not in event or "timestamp" not in event:
                raise ValueError(f"event {dict(event)!r} needs `event_type` and `timestamp`")
            kind, ts = str(event["event_type"]), event["timestamp"]
            item, cat = event.get("item_id"), event.get("category_id")
        self.state.update(kind, _seconds(ts), None if item is None else str(item),
                          None if cat is None else str(cat))
        return self.score()

    def score(self) -> Score:
        """Score the session as it stands (after at least one event)."""
        row = self.state.vector(self._row[0])
        x = self._row
        purchase = abandon = None
        next_action: dict[str, float] = {}
        reasons: list[Reason] = []
        if (model := self.models.get("purchase")) is not None and self.state.counts[3] == 0:
            if self._explainer is None:
                purchase = float(model.boosters_["y_purchase"].predict(x, num_threads=1)[0])
            else:
                raw, contrib = self._explainer.explain(row)
                purchase = 1.0 / (1.0 + math.exp(-raw))
                top = np.argsort(-np.abs(contrib))[: self.n_reasons]
                reasons = [Reason(FEATURE_NAMES[i], None if math.isnan(row[i]) else float(row[i]),
                                  float(contrib[i]))
                           for i in top if contrib[i] != 0.0]
        if (model := self.models.get("abandon")) is not None and self.state.carted:
            abandon = float(model.boosters_["y_abandon"].predict(x, num_threads=1)[0])
        if (model := self.models.get("next-action")) is not None:
            next_action = {a: float(model.boosters_[f"y_next_{a}"].predict(x, num_threads=1)[0])
                           for a in ACTIONS}
        return Score(k=self.state.k, purchase_probability=purchase, abandonment_risk=abandon,
                     next_action=next_action, reasons=reasons)

    def reset(self, history: UserHistory | None = None) -> None:
        """Start a new session (for the given shopper history) with the same models.

        Lets one scorer object re-play stored sessions one after another (the
        models and their explainers are loaded once).
        """
        self.state = SessionFeatureState(history, self.utc_offset_hours)

    def close(self) -> UserHistory:
        """End the session: fold it into the shopper's history and return that history."""
        history = self.state.history
        history.absorb(self.state)
        self.state = SessionFeatureState(history, self.utc_offset_hours)
        return history
