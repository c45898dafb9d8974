"""Session-level purchase intent on the real UCI Online Shoppers sessions (held-out folds only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from shopintent.behaviour.session_purchase import SessionPurchaseModel
from shopintent.behaviour.uci import cross_validate, uci_features
from shopintent.datasets import uci_online_shoppers as uci


@pytest.fixture(scope="module")
def table(session_settings):
    return uci.load(session_settings)


def test_logistic_cv_with_page_values_reaches_published_range(table):
    X, y = uci_features(table, page_values=True)
    result = cross_validate(X, y, "logistic", n_splits=5, seed=0)
    summary = result.summary()
    assert len(result.folds) == 5
    # Measured 0.915 / 0.658; published logistic baselines sit near 0.90.
    assert summary["roc_auc"]["mean"] > 0.895
    assert summary["pr_auc"]["mean"] > 0.62
    assert summary["ece"]["mean"] < 0.05
    # Every row is predicted exactly once, out of fold.
    assert np.all((result.oof > 0) & (result.oof < 1))


def test_lightgbm_beats_logistic_and_page_values_carry_most_signal(table):
    scores = {}
    for page_values in (True, False):
        X, y = uci_features(table, page_values=page_values)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        model = SessionPurchaseModel(kind="lightgbm", random_state=0).fit(X_tr, y_tr)
        from sklearn.metrics import roc_auc_score
        scores[page_values] = roc_auc_score(y_te, model.predict_proba(X_te)[:, 1])
    # Measured 0.93 with PageValues, 0.79 without.
    assert scores[True] > 0.91
    assert 0.72 < scores[False] < scores[True] - 0.08


def test_uci_features_drop_page_values_on_request(table):
    with_pv, _ = uci_features(table, page_values=True)
    without, y = uci_features(table, page_values=False)
    assert "page_values" in with_pv.columns and "page_values" not in without.columns
    assert int(y.sum()) == 1_908


def test_session_purchase_model_round_trips_through_save_and_load(table, tmp_path):
    X, y = uci_features(table, page_values=False)
    X = X.iloc[:3000]
    y = y[:3000]
    for kind in ("lightgbm", "logistic"):
        model = SessionPurchaseModel(kind=kind, n_estimators=200).fit(X.iloc[:2500], y[:2500])
        path = model.save(tmp_path / kind)
        again = SessionPurchaseModel.load(path)
        np.testing.assert_array_equal(again.predict_proba(X.iloc[2500:]), model.predict_proba(X.iloc[2500:]))
        assert again.threshold_ == model.threshold_
        assert (path / "model.json").is_file() and (path / "manifest.json").is_file()


@pytest.mark.parametrize("kind", ["logistic", "mlp"])
def test_exported_network_reproduces_the_scikit_learn_pipeline(table, kind):
    """The saved arrays (no pickle) give exactly what the fitted scikit-learn pipeline gives."""
    from sklearn.utils.class_weight import compute_sample_weight

    from shopintent.behaviour.tabular_network import TabularNetwork

    X, y = uci_features(table, page_values=False)
    model = SessionPurchaseModel(kind=kind)
    model.feature_names_ = list(X.columns)
    model.categorical_ = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    model.categories_ = {c: list(X[c].cat.categories) for c in model.categorical_}
    pipeline = model._pipeline().fit(X.iloc[:2000], y[:2000],
                                     model__sample_weight=compute_sample_weight("balanced", y[:2000]))
    network = TabularNetwork.from_pipeline(pipeline)
    assert any(c.width < len(c.values) for c in network.one_hot)  # rare codes share a column
    held_out = model._frame(X.iloc[2000:4000])
    np.testing.assert_allclose(network.predict_positive(held_out), pipeline.predict_proba(held_out)[:, 1],
                               rtol=1e-12, atol=1e-12)
