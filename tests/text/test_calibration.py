"""Temperature scaling, ECE and the OOS threshold search on hand-checkable numbers."""

from __future__ import annotations

import numpy as np

from shopintent.metrics import expected_calibration_error
from shopintent.text.calibration import (
    ECE_BINS,
    calibrated_proba,
    choose_rejection_threshold,
    fit_temperature,
)


def test_ece_is_zero_when_confidence_matches_accuracy_and_grows_with_overconfidence() -> None:
    confidence = np.array([0.75] * 4)
    assert expected_calibration_error(np.array([1, 1, 1, 0]), confidence, n_bins=ECE_BINS) == 0.0
    assert (
        round(expected_calibration_error(np.array([1, 0, 1, 0]), np.array([0.99] * 4), n_bins=ECE_BINS), 2)
        == 0.49
    )


def test_temperature_softens_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, size=600)
    logits = rng.normal(size=(600, 3))
    # the right class gets a modest edge, but the logits are scaled 10x: overconfident
    logits[np.arange(600), targets] += 1.0
    logits *= 10
    temperature = fit_temperature(logits, targets)
    assert 5 < temperature < 20
    before = expected_calibration_error(
        logits.argmax(1) == targets, calibrated_proba(logits, 1.0).max(1), n_bins=ECE_BINS
    )
    after = expected_calibration_error(
        logits.argmax(1) == targets, calibrated_proba(logits, temperature).max(1), n_bins=ECE_BINS
    )
    assert after < before / 3


def test_rejection_threshold_separates_confident_in_scope_from_unsure_oos() -> None:
    confidence = np.array([0.9, 0.95, 0.85, 0.8, 0.3, 0.2, 0.4])
    correct = np.array([1, 1, 1, 1, 0, 0, 0], dtype=bool)
    is_oos = np.array([0, 0, 0, 0, 1, 1, 1], dtype=bool)
    threshold, scores = choose_rejection_threshold(confidence, correct, is_oos)
    assert 0.4 < threshold <= 0.8
    assert scores == {"validation_in_scope_accuracy": 1.0, "validation_oos_recall": 1.0}


def test_no_oos_rows_means_never_reject() -> None:
    threshold, scores = choose_rejection_threshold(
        np.array([0.2, 0.9]), np.array([1, 1]), np.array([0, 0])
    )
    assert threshold == 0.0 and scores == {}


def test_recall_target_picks_the_most_accurate_threshold_that_reaches_it() -> None:
    from shopintent.text.calibration import choose_rejection_threshold

    # in-scope rows (all correct) at 0.5..0.95, OOS rows at 0.3..0.7
    ins = np.linspace(0.5, 0.95, 10)
    oos = np.linspace(0.3, 0.7, 10)
    confidence = np.concatenate([ins, oos])
    correct = np.concatenate([np.ones(10, bool), np.zeros(10, bool)])
    is_oos = np.concatenate([np.zeros(10, bool), np.ones(10, bool)])
    free, _ = choose_rejection_threshold(confidence, correct, is_oos)
    strict, scores = choose_rejection_threshold(confidence, correct, is_oos, recall_target=1.0)
    assert scores["validation_oos_recall"] == 1.0
    assert strict > 0.7  # every OOS row (max 0.7) is below it
    assert strict >= free
    # a target nobody reaches falls back to the default rule
    unreachable, _ = choose_rejection_threshold(
        confidence, correct, is_oos, recall_target=1.1
    )
    assert unreachable == free
