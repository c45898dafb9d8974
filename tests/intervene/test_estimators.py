"""Estimators against hand-computed values, and IPS unbiasedness against a known truth."""

from __future__ import annotations

import numpy as np
import pytest

from shopintent.intervene.estimators import (
    IPS,
    SNIPS,
    ClippedIPS,
    DirectMethod,
    DoublyRobust,
    SwitchDR,
    estimate_intervals,
)
from shopintent.intervene.feedback import FeedbackError, LoggedFeedback
from shopintent.intervene.intervals import ratio_interval
from shopintent.intervene.reward_model import CrossFitRewards


@pytest.fixture
def small_log() -> tuple[LoggedFeedback, np.ndarray, np.ndarray]:
    # 4 rounds, 2 actions; the logging policy chose with the propensities below.
    fb = LoggedFeedback(
        action=[0, 1, 0, 1], position=[0, 0, 0, 0], reward=[1.0, 0.0, 0.0, 1.0],
        pscore=[0.5, 0.25, 0.5, 0.75], action_names=("a", "b"),
    )
    target = np.array([[0.8, 0.2], [0.5, 0.5], [1.0, 0.0], [0.4, 0.6]])
    q = np.array([[0.6, 0.2], [0.3, 0.1], [0.5, 0.5], [0.2, 0.7]])
    return fb, target, q


def test_estimators_match_hand_computed_values(small_log) -> None:  # type: ignore[no-untyped-def]
    fb, target, q = small_log
    # weights w = π_e(a_i)/p_i = 0.8/0.5, 0.5/0.25, 1.0/0.5, 0.6/0.75 = 1.6, 2.0, 2.0, 0.8
    assert IPS().estimate(fb, target) == pytest.approx((1.6 * 1 + 0 + 0 + 0.8 * 1) / 4)  # 0.6
    assert SNIPS().estimate(fb, target) == pytest.approx(2.4 / 6.4)
    dm_rows = [0.8 * 0.6 + 0.2 * 0.2, 0.5 * 0.3 + 0.5 * 0.1, 1.0 * 0.5, 0.4 * 0.2 + 0.6 * 0.7]
    assert DirectMethod().estimate(fb, target, q) == pytest.approx(np.mean(dm_rows))
    residual = [1.6 * (1 - 0.6), 2.0 * (0 - 0.1), 2.0 * (0 - 0.5), 0.8 * (1 - 0.7)]
    assert DoublyRobust().estimate(fb, target, q) == pytest.approx(np.mean(np.add(dm_rows, residual)))
    # Switch at τ=1.8 drops the correction of the two rounds with w = 2.0.
    switched = [residual[0], 0.0, 0.0, residual[3]]
    assert SwitchDR(tau=1.8).estimate(fb, target, q) == pytest.approx(np.mean(np.add(dm_rows, switched)))
    # Clipping at 1.0: weights 1.0, 1.0, 1.0, 0.8.
    assert ClippedIPS(max_weight=1.0).estimate(fb, target) == pytest.approx((1.0 + 0.8) / 4)


def test_interval_brackets_the_estimate_and_is_reproducible(small_log) -> None:  # type: ignore[no-untyped-def]
    fb, target, _ = small_log
    first = IPS().estimate_interval(fb, target, n_bootstrap=500, random_state=3)
    again = IPS().estimate_interval(fb, target, n_bootstrap=500, random_state=3)
    assert first == again
    assert first.low <= first.value <= first.high
    assert first.low >= 0.0 and first.high <= 1.6


def test_bad_propensity_is_rejected_with_its_row() -> None:
    with pytest.raises(FeedbackError, match=r"row 2: `propensity` .*0\.0.* is outside \(0, 1\]"):
        LoggedFeedback(action=[0, 1], position=[0, 0], reward=[0, 1], pscore=[0.5, 0.0], action_names=("a", "b"))


def test_dr_without_reward_model_names_what_is_missing(small_log) -> None:  # type: ignore[no-untyped-def]
    fb, target, _ = small_log
    with pytest.raises(FeedbackError, match="estimated_rewards"):
        DoublyRobust().estimate(fb, target)


def test_dm_interval_refuses_a_fixed_model_unless_asked(small_log) -> None:  # type: ignore[no-untyped-def]
    """By default DM/DR intervals refit q̂; a bare array would silently give a conditional interval."""
    fb, target, q = small_log
    with pytest.raises(FeedbackError, match=r"dm's interval refits the reward model.*reward_model.*n_refits=0"):
        DirectMethod().estimate_interval(fb, target, q, n_bootstrap=50)
    fixed = DirectMethod().estimate_interval(fb, target, q, n_bootstrap=50, n_refits=0)
    assert fixed.value == pytest.approx(DirectMethod().estimate(fb, target, q))
    assert fixed.low <= fixed.value <= fixed.high


def _simulated_log(seed: int, n_rounds: int = 3000) -> tuple[LoggedFeedback, np.ndarray, float]:
    """Uniform logging over 4 actions with known click rates; the target prefers the best action."""
    ctr = np.array([0.01, 0.03, 0.06, 0.02])
    target = np.array([0.1, 0.2, 0.6, 0.1])
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 4, size=n_rounds)
    rewards = (rng.random(n_rounds) < ctr[actions]).astype(float)
    fb = LoggedFeedback(action=actions, position=np.zeros(n_rounds, int), reward=rewards,
                        pscore=np.full(n_rounds, 0.25), action_names=tuple("abcd"))
    return fb, np.tile(target, (n_rounds, 1)), float(ctr @ target)


def test_refitted_dm_interval_covers_a_known_value_where_the_fixed_one_does_not() -> None:
    """Simulated logs with a known target value (a well-specified click model, so DM is ~unbiased).

    Over 16 seeds the refitted 95% DM interval covers the truth in ≥ 13 (15
    when written); holding q̂ fixed, the interval only reflects the spread of
    π·q̂ over rounds (none here: no context) and covers it in ≤ 3 (0 when written).
    """
    refit_hits, fixed_hits = 0, 0
    for seed in range(16):
        fb, dist, truth = _simulated_log(seed)
        rewards = CrossFitRewards(n_folds=2, C=1.0, random_state=seed).fit(fb)
        refit = DirectMethod().estimate_interval(fb, dist, n_bootstrap=100, reward_model=rewards,
                                                 random_state=seed)
        fixed = DirectMethod().estimate_interval(fb, dist, rewards.estimated_rewards_, n_bootstrap=100,
                                                 n_refits=0, random_state=seed)
        refit_hits += refit.covers(truth)
        fixed_hits += fixed.covers(truth)
    assert refit_hits >= 13, refit_hits
    assert fixed_hits <= 3, fixed_hits


def test_intervals_of_several_estimators_share_one_refit_per_replicate() -> None:
    fb, dist, _ = _simulated_log(0)
    rewards = CrossFitRewards(n_folds=3, C=1.0).fit(fb)
    estimators = [DirectMethod(), IPS(), DoublyRobust()]
    together = estimate_intervals(estimators, fb, dist, reward_model=rewards, n_bootstrap=60, random_state=4)
    alone = [e.estimate_interval(fb, dist, n_bootstrap=60, reward_model=rewards, random_state=4)
             for e in estimators]
    assert together == alone
    with pytest.raises(FeedbackError, match="not both"):
        estimate_intervals(estimators, fb, dist, rewards.estimated_rewards_, reward_model=rewards)


def test_ips_is_unbiased_on_simulated_logs_with_known_truth() -> None:
    """Over many seeds the mean IPS error is ~0 (within 3 standard errors); DR too."""
    n_actions, n_rounds, n_seeds = 5, 2000, 200
    truth_ctr = np.array([0.02, 0.05, 0.10, 0.03, 0.08])
    target_dist = np.array([0.05, 0.15, 0.50, 0.05, 0.25])
    truth = float(truth_ctr @ target_dist)
    errors_ips, errors_dr, errors_dm = [], [], []
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        logging = rng.dirichlet(np.ones(n_actions) * 2.0)  # a different, known behaviour policy
        actions = rng.choice(n_actions, size=n_rounds, p=logging)
        rewards = (rng.random(n_rounds) < truth_ctr[actions]).astype(float)
        fb = LoggedFeedback(action=actions, position=np.zeros(n_rounds, int), reward=rewards,
                            pscore=logging[actions], action_names=tuple("abcde"))
        dist = np.tile(target_dist, (n_rounds, 1))
        wrong_model = np.full((n_rounds, n_actions), 0.05)  # a biased reward model
        errors_ips.append(IPS().estimate(fb, dist) - truth)
        errors_dr.append(DoublyRobust().estimate(fb, dist, wrong_model) - truth)
        errors_dm.append(DirectMethod().estimate(fb, dist, wrong_model) - truth)
    for errors in (errors_ips, errors_dr):
        mean, se = np.mean(errors), np.std(errors) / np.sqrt(n_seeds)
        assert abs(mean) < 3 * se + 1e-4, (mean, se)
    # The direct method inherits the model's bias (0.05 vs truth 0.0775): it must not look unbiased.
    assert np.mean(errors_dm) == pytest.approx(0.05 - truth, abs=1e-9)


def test_ratio_interval_covers_the_mean_of_a_known_bernoulli() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(40):
        x = (rng.random(3000) < 0.1).astype(float)
        covered += ratio_interval(x, np.ones_like(x), n_bootstrap=300, random_state=1).covers(0.1)
    assert covered >= 34  # nominal 95% of 40 = 38
