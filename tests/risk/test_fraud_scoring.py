"""The service's FraudScorer scores real DMC 2019 transactions as the fitted FraudModel does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopintent.datasets import dmc2019_selfcheckout_fraud as dmc
from shopintent.inference.trees import TreeArrays
from shopintent.risk.fraud import FraudModel
from shopintent.risk.fraud_scoring import FraudScorer
from shopintent.risk.scorer import TransactionScorer


@pytest.mark.parametrize("kind", ["lightgbm", "logistic"])
def test_loaded_scorer_gives_the_models_probabilities_and_reasons(dmc_table: pd.DataFrame, kind: str,
                                                                   tmp_path: Path) -> None:
    X, y = dmc_table[list(dmc.FEATURES)], dmc_table[dmc.LABEL].to_numpy()
    half = len(X) // 2
    model = FraudModel(kind=kind, cost=dmc.COST_MATRIX, n_estimators=100).fit(X.iloc[:half], y[:half])
    scorer = FraudScorer.load(model.save(tmp_path / kind))
    if kind == "lightgbm":  # reason codes from the NumPy trees too: no LightGBM in the service
        assert isinstance(scorer.booster_, TreeArrays) and scorer._shap_booster() is scorer.booster_
    held_out = X.iloc[half:].to_numpy(dtype=float)
    assert len(held_out) > 900  # every labelled DMC row not used to fit
    worst = max(abs(scorer.proba_one(row) - model.proba_one(row)) for row in held_out)
    assert worst <= 1e-9
    assert np.max(np.abs(model.predict_proba(X.iloc[half:])[:, 1]
                         - [scorer.proba_one(row) for row in held_out])) <= 1e-9
    for row in held_out[:50]:
        ours, theirs = scorer.contributions_one(row), model.contributions_one(row)
        assert ours.keys() == theirs.keys()
        assert max(abs(ours[k] - theirs[k]) for k in ours) <= 1e-9
    assert (scorer.threshold_, scorer.feature_names_, scorer.cost_matrix()) == (
        model.threshold_, model.feature_names_, model.cost_matrix())
    records = X.iloc[half:half + 200].to_dict("records")
    by_model = TransactionScorer(model).score_batch(records)[0]
    by_scorer = TransactionScorer(scorer).score_batch(records)[0]
    assert [(i, v.action) for i, v in by_model] == [(i, v.action) for i, v in by_scorer]
