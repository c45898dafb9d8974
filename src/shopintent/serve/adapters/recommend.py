"""Top-k recommendations for a live session's recent items."""

from __future__ import annotations

from typing import Any

from shopintent.serve.adapters.base import ModelSlot, import_or_unavailable
from shopintent.serve.adapters.convert import plain
from shopintent.settings import Settings


def recommend_slot(settings: Settings) -> ModelSlot[Any]:
    """The default recommender of :mod:`shopintent.recommend`."""

    def load() -> tuple[Any, dict[str, Any]]:
        (loader,) = import_or_unavailable("recommend", "shopintent.recommend",
                                          ("load_serving_recommender",), "issue: recommend")
        model = loader(settings)
        card: dict[str, Any] = {"version": _kind(model), "model_id": recommender_id(model),
                                "items": len(getattr(model, "index_", ()) or ())}
        metrics = getattr(model, "metrics_", None)
        if metrics:
            card["metrics"] = plain(metrics)
        return model, card

    return ModelSlot("recommend", load)


def _kind(model: Any) -> str:
    """The estimator class a served model is (a scorer names the estimator it was loaded from)."""
    return str(getattr(model, "estimator_name", type(model).__name__))


def recommender_id(model: Any) -> str:
    """The served recommender's id: its class, a hybrid's component kinds, and its training data
    (``load_default_recommender`` trains on Taobao sessions only)."""
    parts = "+".join(str(kind) for kind, _ in getattr(model, "components", ()))
    return f"recommend:{_kind(model)}{f'({parts})' if parts else ''}@taobao-sessions"


def recommend_items(slot: ModelSlot[Any], history: list[str], k: int) -> list[dict[str, Any]]:
    """Top-k ``{item_id, score}`` for a session's item history (oldest first)."""
    model = slot.get()
    out = []
    for row in model.recommend(history, k=k):
        if isinstance(row, tuple | list) and len(row) == 2:  # Recommender.recommend: (item_id, score)
            out.append({"item_id": str(row[0]), "score": float(row[1])})
        else:
            out.append(plain(row))
    return out
