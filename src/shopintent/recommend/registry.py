"""Model names the CLI and ``Recommender.load`` understand, mapped to their classes."""

from __future__ import annotations

import importlib
from typing import Any

#: ``--model`` name → "module:Class" (imported lazily: torch only when SASRec is asked for).
MODELS: dict[str, str] = {
    "pop": "shopintent.recommend.popularity:Popularity",
    "sknn": "shopintent.recommend.sknn:SessionKNN",
    "sasrec": "shopintent.recommend.sasrec:SASRec",
    "als": "shopintent.recommend.als:ImplicitALS",
    "content": "shopintent.recommend.content:ContentBased",
    "hybrid": "shopintent.recommend.hybrid:Hybrid",
}


def model_class(kind: str) -> Any:
    """The recommender class registered as ``kind``."""
    if kind not in MODELS:
        raise KeyError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
    module, name = MODELS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def make_model(kind: str, **params: Any) -> Any:
    """A fresh, unfitted recommender of ``kind`` with ``params`` (defaults otherwise)."""
    return model_class(kind)(**params)
