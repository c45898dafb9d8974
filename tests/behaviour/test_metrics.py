import numpy as np
import pytest

from shopintent.behaviour.metrics import ECE_BINS, best_f1_threshold, binary_scores
from shopintent.metrics import expected_calibration_error, reliability_bins


def test_ece_is_zero_when_each_bin_rate_matches_its_prediction():
    p = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(y, p, n_bins=ECE_BINS) == pytest.approx(0.0)


def test_ece_weights_bin_gaps_by_bin_size():
    # bin [0.0, 0.1]: predicted 0.05, observed 0.5 (2 rows); bin (0.9, 1.0]: 0.95 vs 1.0 (2 rows)
    p = np.array([0.05, 0.05, 0.95, 0.95])
    y = np.array([1, 0, 1, 1])
    assert expected_calibration_error(y, p, n_bins=ECE_BINS) == pytest.approx((2 * 0.45 + 2 * 0.05) / 4)
    bins = reliability_bins(y, p)
    assert [b["count"] for b in bins] == [2, 2]


def test_best_f1_threshold_separates_perfectly_ranked_scores():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    threshold = best_f1_threshold(y, p)
    assert threshold == pytest.approx(0.8)
    assert binary_scores(y, p, threshold).f1 == pytest.approx(1.0)


def test_scores_refuse_a_single_class_with_a_clear_message():
    with pytest.raises(ValueError, match="single class"):
        binary_scores(np.zeros(5), np.linspace(0, 1, 5), 0.5)
