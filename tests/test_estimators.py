"""Every public estimator keeps scikit-learn's rules: ``clone``, ``get_params``, ``set_params`` round-trip.

The registry (:data:`shopintent.estimators.ESTIMATORS`) lists the public
estimators; a walk over the packages fails when a ``BaseEstimator`` subclass,
or any class with ``fit``, is neither registered nor named below with the
reason it is not an estimator — so a new model cannot slip through.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError

from shopintent.estimators import ESTIMATORS, PACKAGES, estimator_class, make_estimator

#: Classes with ``fit`` that are not public estimators, and why.
NOT_ESTIMATORS = {
    "shopintent.text.features:TextFeaturizer": "IntentClassifier's internal featurizer, built from its "
    "parameters and saved inside its directory",
    "shopintent.intervene.obd:ObdEncoder": "a data-set encoder (Open Bandit columns to arrays) with no "
    "hyper-parameters, not a model",
}
#: Abstract bases: the shape subclasses share, never constructed on their own.
BASES = {"shopintent.text.rejection:RejectingClassifier", "shopintent.recommend.base:Recommender"}
CLASSIFIERS = {"IntentClassifier", "FineTunedClassifier", "EnsembleClassifier", "LSTMClassifier",
               "SessionPurchaseModel", "FraudModel"}
REGRESSORS = {"RepeatPurchaseModel"}


def _same(a: Any, b: Any) -> bool:
    """Equal values; for estimators (an ensemble's members) the same class and parameters."""
    if isinstance(a, BaseEstimator):
        return type(a) is type(b) and _same(a.get_params(deep=False), b.get_params(deep=False))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_clone_get_params_and_set_params_round_trip(name: str) -> None:
    estimator = make_estimator(name)
    params = estimator.get_params(deep=False)
    klass = estimator_class(name)
    defaults = klass().get_params(deep=False) if name != "EnsembleClassifier" else {}
    # the example sets something other than the defaults, so the round trip proves a change
    assert any(not _same(params[k], defaults.get(k, object())) for k in ESTIMATORS[name].example)

    copy = clone(estimator)
    assert copy is not estimator and type(copy) is klass
    assert _same(copy.get_params(deep=False), params)

    fresh = klass(**({"members": params["members"]} if name == "EnsembleClassifier" else {}))
    assert fresh.set_params(**params) is fresh
    assert _same(fresh.get_params(deep=False), params)
    assert _same(clone(fresh).get_params(deep=False), params)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_the_mixin_matches_the_fit_predict_contract(name: str) -> None:
    estimator = make_estimator(name)
    assert is_classifier(estimator) == (name in CLASSIFIERS)
    assert is_regressor(estimator) == (name in REGRESSORS)


def test_an_unfitted_model_raises_scikit_learns_not_fitted_error_under_every_old_import_name() -> None:
    from shopintent.recommend.base import NotFittedError as RecommendNotFitted
    from shopintent.text.intent import NotFittedError as TextNotFitted

    assert TextNotFitted is NotFittedError and RecommendNotFitted is NotFittedError
    with pytest.raises(NotFittedError, match="Popularity is not fitted"):
        make_estimator("Popularity").recommend(["a"])
    with pytest.raises(NotFittedError, match="SlotTagger is not fitted"):
        make_estimator("SlotTagger").predict_spans(["华为手机壳"])
    with pytest.raises(NotFittedError, match="IntentClassifier is not fitted"):
        make_estimator("IntentClassifier").predict(["where is my parcel"])


def test_every_estimator_class_in_the_packages_is_registered() -> None:
    registered = {spec.target for spec in ESTIMATORS.values()}
    found_estimators, found_fitters = set(), set()
    for package in PACKAGES:
        root = importlib.import_module(f"shopintent.{package}")
        for info in pkgutil.walk_packages(root.__path__, f"{root.__name__}."):
            module = importlib.import_module(info.name)
            for attr, value in vars(module).items():
                if not inspect.isclass(value) or value.__module__ != module.__name__ or attr.startswith("_"):
                    continue
                target = f"{module.__name__}:{attr}"
                if issubclass(value, BaseEstimator):
                    found_estimators.add(target)
                elif callable(getattr(value, "fit", None)):
                    found_fitters.add(target)
    assert found_estimators - BASES - registered == set(), "register these in shopintent.estimators"
    assert found_fitters - set(NOT_ESTIMATORS) == set(), "make these BaseEstimators (or say why not)"
    assert registered <= found_estimators, "registered targets that are not BaseEstimators"


def test_bad_parameters_are_stored_by_init_and_refused_where_used_naming_the_parameter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shopintent.intervene.actions import DEFAULT_ACTIONS
    from shopintent.intervene.context import DecisionContext
    from shopintent.samples import obd_feedback
    from tests.conftest import REAL_DATA_DIR

    policy = make_estimator("UpliftPolicy", epsilon=0.0)  # scikit-learn: __init__ never validates
    assert policy.epsilon == 0.0
    with pytest.raises(ValueError, match="epsilon must be in"):
        policy.probabilities(DecisionContext("u", "s", 0.5, 0.5), DEFAULT_ACTIONS)
    with pytest.raises(ValueError, match="an ensemble needs at least one member"):
        make_estimator("EnsembleClassifier", members=[]).fit(["a", "b"], ["x", "y"])
    if REAL_DATA_DIR is None:
        pytest.skip("real data not found: set SHOPINTENT_DATA_DIR to the shared data folder")
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(REAL_DATA_DIR))
    with pytest.raises(ValueError, match="n_folds must be >= 2, got 1"):
        make_estimator("CrossFitRewards", n_folds=1).fit(obd_feedback(200))
    with pytest.raises(ValueError, match="unknown method 'bogus'"):
        make_estimator("LoggedPolicyDistribution", method="bogus").fit(obd_feedback(200))
