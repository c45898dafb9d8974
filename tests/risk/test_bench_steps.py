"""The steps of `shopintent bench risk` on the real DMC data, small enough for the test suite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopintent.datasets import dmc2019_selfcheckout_fraud as dmc
from shopintent.evaluation.benchmarks.risk import dmc_cross_validation, profit_with_interval
from shopintent.risk.costs import CostMatrix

COST = CostMatrix(*dmc.COST_MATRIX)


def test_repeated_cv_decides_every_transaction_once_per_seed_and_beats_flag_nobody(dmc_table: pd.DataFrame) -> None:
    cv = dmc_cross_validation(dmc_table, COST, seeds=(0, 1), folds=3, kinds=("logistic",))
    decisions = cv["decisions"]
    assert set(decisions) == {"logistic", "flag nobody", "rule trustLevel ≤ 2"}
    assert decisions["logistic"].shape == (2, len(dmc_table))
    assert len(cv["fold_auc"]["logistic"]) == 6 and min(a for a, _ in cv["fold_auc"]["logistic"]) > 0.95
    rule_share = decisions["rule trustLevel ≤ 2"][0].mean()
    assert rule_share == pytest.approx((332 + 347) / 1879)  # trust levels 1 and 2, from PROVENANCE
    model, _, _ = profit_with_interval(cv["y"], decisions["logistic"], COST, n_boot=200)
    nobody, low, high = profit_with_interval(cv["y"], decisions["flag nobody"], COST, n_boot=200)
    assert nobody == pytest.approx(-5 * 104 / 1879 * 1000) and low < nobody < high
    assert model > high


def test_bootstrap_interval_is_over_transactions_shared_by_the_seeds() -> None:
    y = np.array([1, 0, 0, 0] * 50)
    same = np.tile(y == 1, (3, 1))  # every seed flags exactly the frauds: +5 each, no noise across seeds
    profit, low, high = profit_with_interval(y, same, COST, n_boot=300)
    assert profit == pytest.approx(1250.0) and low < profit < high
