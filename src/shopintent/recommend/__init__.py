"""Recommendation: popularity, session kNN, ALS, SASRec, content-based and hybrid models.

Every model has the same shape (``fit``, ``score``, ``recommend``,
``save``/``load``; see :mod:`shopintent.recommend.base`) and is judged by
full-ranking leave-one-out evaluation (:mod:`shopintent.recommend.evaluate`).

For serving: ``load_default_recommender(settings).recommend(history, k)``
returns ``[(item_id, score), …]`` from a model trained on the Taobao events.
"""

from __future__ import annotations

from shopintent.recommend.base import Recommender
from shopintent.recommend.data import ItemIndex, leave_one_out
from shopintent.recommend.default import load_default_recommender
from shopintent.recommend.evaluate import evaluate
from shopintent.recommend.registry import make_model, model_class

__all__ = [
    "ItemIndex",
    "Recommender",
    "evaluate",
    "leave_one_out",
    "load_default_recommender",
    "make_model",
    "model_class",
]
