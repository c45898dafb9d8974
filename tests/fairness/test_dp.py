"""DP release of real counts: the noise is shown, and the error shrinks as ε grows."""

from __future__ import annotations

import pytest

from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.fairness import dp
from shopintent.settings import Settings


@pytest.fixture(scope="module")
def funnel(session_settings: Settings) -> dict[str, int]:
    return dp.shopper_funnel(taobao.load(session_settings).events)


def test_funnel_release_shows_noise_and_splits_epsilon_across_stages(funnel: dict[str, int]) -> None:
    assert funnel == {"view": 813, "add_to_cart": 601, "purchase": 559}
    release = dp.release_counts("funnel", funnel, 1.0, "sequential")
    table = release.table
    assert list(table["count"]) == ["view", "add_to_cart", "purchase"]
    assert (table["released"] == (table["exact"] + table["noise"]).clip(lower=0)).all()
    assert table["epsilon"].tolist() == pytest.approx([1 / 3] * 3)
    # one shopper moves all three stages: OpenDP certifies scale 3/ε for L1 sensitivity 3
    assert table["scale"].tolist() == pytest.approx([3.0] * 3)
    assert (table["noise"] != 0).any()


def test_release_error_on_real_counts_falls_with_epsilon(funnel: dict[str, int]) -> None:
    errors = [dp.release_error(funnel, eps, "sequential", repeats=100)["mean_abs_error"]
              for eps in dp.EPSILONS]
    assert errors[0] > errors[1] > errors[2]
    # Discrete Laplace noise at ε/3 per stage has mean |noise| = 2e^(-ε/3)/(1-e^(-2ε/3)); at ε=0.1 about 30
    # shoppers. OpenDP's noise is unseeded, so the bounds leave room (300 draws: standard error about 2).
    assert 20 < errors[0] < 45 and errors[2] < 0.5


def test_rates_spend_half_the_budget_on_each_count_and_certify_the_scale() -> None:
    release = dp.release_rates("rates", {"new": 40, "returning": 300}, {"new": 200, "returning": 1500}, 1.0)
    table = release.table
    assert table["exact_rate"].tolist() == pytest.approx([0.2, 0.2])
    assert table["epsilon"].tolist() == pytest.approx([0.5, 0.5])
    assert table["scale"].tolist() == pytest.approx([2.0, 2.0])
    mechanism = dp.count_mechanism(1.0, 2)
    assert mechanism.measurement.map(2) <= 1.0  # the library's own privacy map, not our arithmetic


def test_bad_release_input_is_refused() -> None:
    with pytest.raises(ValueError, match="epsilon must be positive"):
        dp.release_counts("x", {"a": 1}, 0.0, "parallel")
    with pytest.raises(ValueError, match="non-negative integers"):
        dp.release_counts("x", {"a": -3}, 1.0, "parallel")
    with pytest.raises(ValueError, match="group 'b' has a numerator but no denominator"):
        dp.release_rates("x", {"b": 1}, {"a": 2}, 1.0)
