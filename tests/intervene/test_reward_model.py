"""The reward model's bootstrap refits on the real OBD random log: the same fit, the same folds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from shopintent.datasets import obd_sample
from shopintent.intervene.feedback import LoggedFeedback
from shopintent.intervene.obd import ObdEncoder
from shopintent.intervene.reward_model import CrossFitRewards, HoldoutRewards, RewardModel


@pytest.fixture(scope="module")
def random_slice(session_settings) -> LoggedFeedback:  # type: ignore[no-untyped-def]
    """The first 4,000 rounds of the OBD men random log (19 clicks)."""
    data = obd_sample.load(session_settings)
    encoder = ObdEncoder().fit([data["random"].feedback, data["bts"].feedback])
    return encoder.transform(data["random"].feedback, "random").subset(np.arange(4000))


def _counts(n: int, replicates: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(float)


def test_refit_on_bootstrap_counts_equals_sklearn_on_the_repeated_rows(random_slice) -> None:  # type: ignore[no-untyped-def]
    model = RewardModel(C=0.1).fit(random_slice)
    counts = _counts(random_slice.n_rounds, 3, seed=5)
    X = RewardModel.design_matrix(random_slice)
    y = (random_slice.reward > 0).astype(int)
    for refit, c in zip(model.refit(random_slice, counts), counts, strict=True):
        rows = np.repeat(np.arange(random_slice.n_rounds), c.astype(int))
        reference = LogisticRegression(C=0.1, tol=1e-10, max_iter=10_000).fit(X[rows], y[rows])
        assert refit.intercept_ == pytest.approx(reference.intercept_[0], abs=1e-5)
        coef = np.concatenate([refit.action_coef_, refit.position_coef_, refit.context_coef_,
                               refit.action_context_coef_])
        assert np.abs(coef - reference.coef_[0]).max() < 1e-5
        # A replicate differs from the original fit: the refit is not a no-op.
        assert abs(refit.intercept_ - model.intercept_) > 1e-3


def test_a_replicate_that_drew_no_click_gets_the_constant_model(random_slice) -> None:  # type: ignore[no-untyped-def]
    model = RewardModel().fit(random_slice)
    weights = (random_slice.reward == 0).astype(float)[None, :]
    (refit,) = model.refit(random_slice, weights)
    assert np.all(refit.action_coef_ == 0.0) and np.all(refit.context_coef_ == 0.0)
    assert refit.predict(random_slice) == pytest.approx(1e-6, rel=1e-3)


def test_cross_fit_replicate_scores_a_fold_only_with_the_other_folds_rows(random_slice) -> None:  # type: ignore[no-untyped-def]
    rewards = CrossFitRewards(n_folds=4, random_state=1).fit(random_slice)
    counts = _counts(random_slice.n_rounds, 1, seed=2)
    moved = counts.copy()
    fold0 = rewards.folds_ == 0
    moved[0, fold0] = np.random.default_rng(3).permutation(moved[0, fold0])  # reshuffle fold 0's draws
    (q,) = rewards.replicates(counts, np.random.default_rng(0))
    (q_moved,) = rewards.replicates(moved, np.random.default_rng(0))
    assert np.array_equal(q[fold0], q_moved[fold0])  # fold 0 is scored by a model that never saw it
    assert not np.allclose(q[~fold0], q_moved[~fold0])  # the other folds' models did see it


def test_a_replicate_drawing_every_round_once_reproduces_the_point_fit(random_slice) -> None:  # type: ignore[no-untyped-def]
    rewards = CrossFitRewards(random_state=0).fit(random_slice)
    (q,) = rewards.replicates(np.ones((1, random_slice.n_rounds)), np.random.default_rng(0))
    # The point fit is polished to the optimum the refits reach, so the two coincide.
    assert np.abs(q / rewards.estimated_rewards_ - 1.0).max() < 1e-6
    early, late = random_slice.subset(np.arange(2000)), random_slice.subset(np.arange(2000, 4000))
    holdout = HoldoutRewards().fit(early, late)
    assert holdout.estimated_rewards_.shape == (2000, random_slice.n_actions)
    first, second = holdout.replicates(np.ones((2, 2000)), np.random.default_rng(0))
    assert not np.allclose(first, second)  # each replicate resamples the fitting split
