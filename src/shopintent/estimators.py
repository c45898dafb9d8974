"""Every public estimator of shopintent, by name: its class, a tiny constructor and its saved form.

Why a registry: scikit-learn's ``clone``, ``get_params`` and ``set_params``
only work on a class that keeps scikit-learn's rules (``__init__`` stores its
arguments and nothing else), and one forgotten class breaks a grid search far
from where it was written. ``tests/test_estimators.py`` runs the round trip
over :data:`ESTIMATORS` and walks the packages for any ``BaseEstimator``
subclass (or class with ``fit``) missing here. :func:`load_model` is the one
loader: it reads the kind a model directory's ``model.json`` names and hands
the directory to that class's ``load``, which verifies the manifest first.

Classes are imported lazily (``module:Class``): listing the registry does not
import torch or LightGBM.

>>> spec = ESTIMATORS["Popularity"]
>>> (spec.package, spec.saved_kind)
('recommend', 'pop')
>>> make_estimator("Popularity").get_params()
{'half_life': 5.0, 'mode': 'recent'}
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from shopintent.persist import ModelFileError, peek_kind

__all__ = ["ESTIMATORS", "PACKAGES", "EstimatorSpec", "estimator_class", "load_model", "make_estimator"]

#: The packages whose public models are estimators (walked by the registry test).
PACKAGES: tuple[str, ...] = ("text", "behaviour", "recommend", "intervene", "risk")


@dataclass(frozen=True)
class EstimatorSpec:
    """One public estimator: where it lives, a tiny instance, and how it is saved.

    ``example`` holds constructor arguments that differ from the defaults
    (so the ``set_params`` round trip changes something); ``members`` builds
    nested estimators an instance needs (an ensemble's members).
    ``saved_kind`` is the ``kind`` its ``model.json`` names (``None``: not
    saved on its own); ``saved_form`` says what its directory holds.
    """

    target: str
    package: str
    example: Mapping[str, Any] = field(default_factory=dict)
    saved_kind: str | None = None
    saved_form: str = "not saved on its own"
    members: Callable[[], Mapping[str, Any]] | None = None

    @property
    def name(self) -> str:
        """The class name."""
        return self.target.rsplit(":", 1)[1]


def _ensemble_members() -> dict[str, Any]:
    from shopintent.text.intent import IntentClassifier

    return {"members": [IntentClassifier(encoders=(), tfidf_max_features=500)]}


def _side_cold_members() -> dict[str, Any]:
    from shopintent.recommend.popularity import Popularity

    return {"base": Popularity(), "side": {"i1": np.ones(2, dtype=np.float32)}}


_TEXT_DIR = "model.json (parameters, classes, temperature, threshold, training record) + manifest.json"

#: Every public estimator, by class name.
ESTIMATORS: dict[str, EstimatorSpec] = {
    spec.name: spec
    for spec in (
        # -- text ----------------------------------------------------------------------------------
        EstimatorSpec("shopintent.text.intent:IntentClassifier", "text",
                      {"encoders": (), "tfidf_max_features": 500, "C": 2.0}, "IntentClassifier",
                      f"head.safetensors, tfidf_vocabulary.json + tfidf_idf.safetensors, {_TEXT_DIR}"),
        EstimatorSpec("shopintent.text.finetune:FineTunedClassifier", "text",
                      {"backbone": "minilm", "epochs": 1}, "FineTunedClassifier",
                      f"weights.safetensors, optional network.onnx / network.int8.onnx, {_TEXT_DIR}"),
        EstimatorSpec("shopintent.text.ensemble:EnsembleClassifier", "text",
                      {"weights": [1.0]}, "EnsembleClassifier",
                      f"member_<i>/ (each member's own directory), {_TEXT_DIR}",
                      members=_ensemble_members),
        EstimatorSpec("shopintent.text.tagger:SlotTagger", "text",
                      {"mode": "word", "epochs": 2}, "SlotTagger",
                      "weights.safetensors, vocab.json (tokens, bigrams, tags, gazetteers), "
                      "model.json + manifest.json"),
        EstimatorSpec("shopintent.text.lstm:LSTMClassifier", "text", {"epochs": 2}),
        # -- behaviour -----------------------------------------------------------------------------
        EstimatorSpec("shopintent.behaviour.event_models:EventIntentModel", "behaviour",
                      {"task": "abandon", "n_estimators": 50}, "event_intent",
                      "<label>.txt (LightGBM model text) per label, model.json (thresholds) + manifest.json"),
        EstimatorSpec("shopintent.behaviour.session_purchase:SessionPurchaseModel", "behaviour",
                      {"kind": "logistic"}, "session_purchase",
                      "booster.txt (LightGBM) or network.safetensors + network.json, "
                      "model.json (calibrator, threshold, features) + manifest.json"),
        EstimatorSpec("shopintent.behaviour.sequence:SequenceIntentModel", "behaviour",
                      {"labels": ("y_purchase", "y_abandon"), "epochs": 1}, "sequence_intent",
                      "network.safetensors, model.json (vocabularies, thresholds) + manifest.json"),
        EstimatorSpec("shopintent.behaviour.repeat:RepeatPurchaseModel", "behaviour",
                      {"objective": "l1"}, "repeat_purchase",
                      "booster.txt (LightGBM), model.json (BG/NBD parameters) + manifest.json"),
        EstimatorSpec("shopintent.behaviour.repeat:BGNBD", "behaviour", {"penalizer_coef": 0.01},
                      saved_form="inside RepeatPurchaseModel's model.json"),
        # -- recommend -----------------------------------------------------------------------------
        EstimatorSpec("shopintent.recommend.popularity:Popularity", "recommend",
                      {"mode": "recent"}, "pop",
                      "popularity.safetensors, items.json, attributes.json, model.json + manifest.json"),
        EstimatorSpec("shopintent.recommend.sknn:SessionKNN", "recommend", {"k": 20}, "sknn",
                      "sessions.safetensors (CSR), weights.safetensors, items.json, attributes.json, model.json + manifest.json"),
        EstimatorSpec("shopintent.recommend.als:ImplicitALS", "recommend", {"factors": 8}, "als",
                      "item_factors.safetensors, items.json, attributes.json, model.json + manifest.json"),
        EstimatorSpec("shopintent.recommend.content:ContentBased", "recommend", {"pop_weight": 0.1},
                      "content", "attributes.safetensors (CSR), popularity.safetensors, items.json, "
                      "model.json + manifest.json"),
        EstimatorSpec("shopintent.recommend.hybrid:Hybrid", "recommend",
                      {"components": (("pop", {}), ("sknn", {"k": 20}))}, "hybrid",
                      "component_<i>_<kind>/ (each a recommender directory), weights.json, "
                      "model.json + manifest.json"),
        EstimatorSpec("shopintent.recommend.side_features:SideFeatureColdStart", "recommend",
                      {"offset": 2.0}, members=_side_cold_members),
        EstimatorSpec("shopintent.recommend.sasrec:SASRec", "recommend",
                      {"hidden": 16, "epochs": 1}, "sasrec",
                      "network.safetensors, sasrec.json (attribute vocabulary, history), items.json, "
                      "model.json + manifest.json; resume checkpoints in checkpoint/"),
        # -- intervene -----------------------------------------------------------------------------
        EstimatorSpec("shopintent.intervene.policy:UpliftPolicy", "intervene",
                      {"epsilon": 0.2}, "UpliftPolicy",
                      "model.json (parameters, coefficients, reward scale) + manifest.json"),
        EstimatorSpec("shopintent.intervene.reward_model:RewardModel", "intervene", {"C": 1.0}),
        EstimatorSpec("shopintent.intervene.reward_model:CrossFitRewards", "intervene", {"n_folds": 3}),
        EstimatorSpec("shopintent.intervene.reward_model:HoldoutRewards", "intervene", {"C": 1.0}),
        EstimatorSpec("shopintent.intervene.learn:RewardGreedyPolicy", "intervene", {"temperature": 0.5},
                      saved_form="model.json (parameters, held-out report, coefficients) + manifest.json; "
                      "written by intervene.learn.save_policy, not loaded back"),
        EstimatorSpec("shopintent.intervene.learn:IPWPolicyLearner", "intervene", {"C": 1.0},
                      saved_form="as RewardGreedyPolicy"),
        EstimatorSpec("shopintent.intervene.action_dist:LoggedPolicyDistribution", "intervene",
                      {"method": "time_local"}),
        # -- risk ----------------------------------------------------------------------------------
        EstimatorSpec("shopintent.risk.fraud:FraudModel", "risk", {"kind": "logistic"}, "fraud_model",
                      "booster.txt (LightGBM) or coefficients in model.json, model.json (calibrator, "
                      "cost threshold, feature recipe) + manifest.json"),
        EstimatorSpec("shopintent.risk.anomaly:AnomalyDetector", "risk", {"n_estimators": 50}),
    )
}


def estimator_class(name: str) -> type[BaseEstimator]:
    """The class registered as ``name`` (imported on first use)."""
    if name not in ESTIMATORS:
        raise KeyError(f"unknown estimator {name!r}; choose one of {', '.join(sorted(ESTIMATORS))}")
    module, attr = ESTIMATORS[name].target.split(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def make_estimator(name: str, **params: Any) -> BaseEstimator:
    """A small unfitted instance of ``name``: its registry example, overridden by ``params``."""
    klass = estimator_class(name)
    spec = ESTIMATORS[name]
    nested = dict(spec.members()) if spec.members is not None else {}
    return klass(**{**spec.example, **nested, **params})


def load_model(path: Path | str, **options: Any) -> Any:
    """Load any saved model directory by the ``kind`` its ``model.json`` names.

    ``options`` go to that class's ``load`` (``cache_dir`` for text models,
    ``runtime`` for the fine-tuned one). The class's ``load`` verifies the
    manifest before it reads anything.
    """
    directory = Path(path)
    kind = peek_kind(directory, "the area's train command (see docs/architecture.md, Estimators)")
    by_kind = {spec.saved_kind: name for name, spec in ESTIMATORS.items() if spec.saved_kind}
    if kind not in by_kind:
        raise ModelFileError(directory, "model.json", f"holds a {kind!r} model, which no estimator loads",
                             "give the directory of a saved shopintent model")
    return estimator_class(by_kind[kind]).load(directory, **options)  # type: ignore[attr-defined]
