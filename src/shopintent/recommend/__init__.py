"""Recommendation: popularity, session kNN, ALS, SASRec, content-based and hybrid models.

Every model has the same shape (``fit``, ``score``, ``recommend``,
``save``/``load``; see :mod:`shopintent.recommend.base`) and is judged by
full-ranking leave-one-out evaluation (:mod:`shopintent.recommend.evaluate`).

For serving: ``load_default_recommender(settings).recommend(history, k)``
returns ``[(item_id, score), …]`` from a model trained on the Taobao events.

Any model by name, judged by leave-one-out full ranking on real Taobao sessions:

>>> from shopintent.recommend import evaluate, leave_one_out, make_model
>>> from shopintent.samples import taobao_sequences
>>> sequences, items = taobao_sequences()
>>> split = leave_one_out(sequences)
>>> model = make_model("sknn").fit(split.train, items)
>>> sorted(evaluate(model, split.test).metrics)[:3]
['HR@10', 'HR@20', 'MRR@20']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Eager (NumPy only): the function shares its name with its module, which a lazy import would
# leave bound here in its place.
from shopintent.recommend.evaluate import evaluate

if TYPE_CHECKING:
    from shopintent.recommend.base import Recommender
    from shopintent.recommend.data import ItemIndex, leave_one_out
    from shopintent.recommend.default import load_default_recommender, load_serving_recommender
    from shopintent.recommend.registry import make_model, model_class

#: Imported on first use: the estimators need scikit-learn and SciPy, and the service ranks with
#: ``recommend.serving`` without either, through this package.
_EXPORTS = {
    "Recommender": "base", "ItemIndex": "data", "leave_one_out": "data",
    "load_default_recommender": "default", "load_serving_recommender": "default",
    "make_model": "registry", "model_class": "registry",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'shopintent.recommend' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"shopintent.recommend.{_EXPORTS[name]}"), name)


__all__ = [
    "ItemIndex",
    "Recommender",
    "evaluate",
    "leave_one_out",
    "load_default_recommender",
    "load_serving_recommender",
    "make_model",
    "model_class",
]
