"""The shared calibration metrics: scikit-learn's argument order and binning, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from shopintent.metrics import expected_calibration_error, reliability_bins


def test_reliability_bins_match_scikit_learns_calibration_curve() -> None:
    rng = np.random.default_rng(7)
    y_prob = rng.uniform(size=500)
    y_true = (rng.uniform(size=500) < y_prob).astype(int)
    prob_true, prob_pred = calibration_curve(y_true, y_prob, n_bins=15, strategy="uniform")
    bins = reliability_bins(y_true, y_prob, n_bins=15)
    np.testing.assert_allclose([b["observed"] for b in bins], prob_true)
    np.testing.assert_allclose([b["predicted"] for b in bins], prob_pred)
    assert sum(b["count"] for b in bins) == 500


def test_ece_depends_on_the_bin_count_each_caller_states() -> None:
    # 0.61 and 0.69 share a bin of ten (0.6, 0.7] but not of fifteen (edge at 2/3): the miss and
    # the hit average out in one bin, and count separately in two.
    y_true, y_prob = np.array([0, 1]), np.array([0.61, 0.69])
    assert expected_calibration_error(y_true, y_prob, n_bins=10) == pytest.approx(0.65 - 0.5)
    assert expected_calibration_error(y_true, y_prob, n_bins=15) == pytest.approx((0.61 + 0.31) / 2)


def test_ece_of_no_rows_is_zero_and_mismatched_lengths_are_refused() -> None:
    assert expected_calibration_error(np.array([]), np.array([]), n_bins=10) == 0.0
    with pytest.raises(ValueError, match="y_true has 3 values but y_prob has 2"):
        expected_calibration_error(np.array([1, 0, 1]), np.array([0.2, 0.9]))
    with pytest.raises(ValueError, match="n_bins 0"):
        reliability_bins(np.array([1]), np.array([0.5]), n_bins=0)


def test_the_modules_docstring_example_runs() -> None:
    import doctest

    import shopintent.metrics

    result = doctest.testmod(shopintent.metrics)
    assert (result.attempted, result.failed) == (2, 0)
