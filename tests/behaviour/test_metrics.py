import numpy as np
import pandas as pd
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


def test_session_bootstrap_of_an_auc_difference_equals_the_plain_resampling(taobao_sessions):
    """The vectorised session bootstrap draws the same rows and the same AUCs as concatenating each
    drawn session's rows and asking sklearn (its first form), on real Taobao sessions with tied scores."""
    from sklearn.metrics import roc_auc_score

    from shopintent.behaviour.evaluate import _bootstrap_auc_difference

    rows = taobao_sessions.head(6000).reset_index(drop=True)
    rows = rows.assign(y=(rows["event_type"] == "add_to_cart").astype(float))
    a = rows.groupby("session_id").cumcount().to_numpy(dtype=float)  # events so far: many ties
    b = pd.to_datetime(rows["timestamp"]).dt.hour.to_numpy(dtype=float)
    rng = np.random.default_rng(0)
    sessions = rows["session_id"].to_numpy()
    unique, inverse = np.unique(sessions, return_inverse=True)
    members = [np.flatnonzero(inverse == i) for i in range(len(unique))]
    y, diffs = rows["y"].to_numpy(), []
    for _ in range(50):
        pick = np.concatenate([members[i] for i in rng.integers(0, len(unique), len(unique))])
        if 0 < y[pick].sum() < len(pick):
            diffs.append(roc_auc_score(y[pick], a[pick]) - roc_auc_score(y[pick], b[pick]))
    fast = _bootstrap_auc_difference(rows, "y", a, b, seed=0, n_boot=50)
    assert 0 < y.sum() < len(y) and fast["n_sessions"] == len(unique)
    assert fast["difference"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert fast["low"] == pytest.approx(np.percentile(diffs, 2.5), abs=1e-12)
    assert fast["high"] == pytest.approx(np.percentile(diffs, 97.5), abs=1e-12)
