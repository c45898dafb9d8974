"""Estimate what a logged (target) policy would do, from its own logs, without bias.

To evaluate a policy we only have logs of (the Saito et al. check: BTS), OPE
needs ``π_e(a | x, position)`` for the *other* policy's rounds. OBD's BTS is
context-free, so its action distribution per position is a vector over items
that drifts slowly over the week.

The tempting estimate — the mean of the logged propensities of the items BTS
chose — is biased upwards: rounds where an item had a high propensity are
exactly the rounds where it was likely chosen (size-biased sampling), so the
means sum to well over 1 per position (≈2.3 on OBD men). The empirical
frequency of each item per position is unbiased for the time-averaged
distribution; ``method="time_local"`` uses the frequency inside equal time
windows to follow the drift. ``method="mean_propensity"`` is kept only to show
the bias in reports.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from shopintent.intervene.feedback import FeedbackError, LoggedFeedback

METHODS: tuple[str, ...] = ("empirical", "time_local", "mean_propensity")


class LoggedPolicyDistribution(BaseEstimator):
    """A logged policy's action distribution per position (and time window).

    Parameters
    ----------
    method:
        ``"empirical"`` (frequency per position), ``"time_local"`` (frequency per
        position inside ``n_windows`` equal time windows) or ``"mean_propensity"``
        (biased; for comparison only).
    n_windows:
        Number of time windows for ``"time_local"``.

    Learned: ``table_`` with shape ``(windows, positions, actions)`` and
    ``edges_`` (window boundaries, ``datetime64``).

    >>> from shopintent.samples import obd_feedback
    >>> LoggedPolicyDistribution().fit(obd_feedback()).table_.shape
    (1, 3, 34)
    """

    def __init__(self, method: str = "empirical", n_windows: int = 7) -> None:
        self.method = method
        self.n_windows = n_windows

    def fit(self, target: LoggedFeedback, weights: np.ndarray | None = None) -> LoggedPolicyDistribution:
        """Estimate the table from the target policy's logs (``weights``: bootstrap counts)."""
        # checked here, not in __init__ (which only stores parameters, as scikit-learn asks)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; use one of {', '.join(METHODS)}")
        if self.n_windows < 1:
            raise ValueError(f"n_windows must be >= 1, got {self.n_windows}")
        w = np.ones(target.n_rounds) if weights is None else np.asarray(weights, dtype=float)
        windows = 1 if self.method != "time_local" else self.n_windows
        if windows > 1:
            if target.timestamp is None:
                raise FeedbackError("method='time_local' needs timestamps in the target logs")
            t = target.timestamp.astype("datetime64[us]").astype(np.int64)
            self.edges_ = np.linspace(t.min(), t.max() + 1, windows + 1)
            window = np.clip(np.searchsorted(self.edges_, t, side="right") - 1, 0, windows - 1)
        else:
            self.edges_ = np.array([])
            window = np.zeros(target.n_rounds, dtype=np.int64)
        shape = (windows, target.n_positions, target.n_actions)
        flat = np.ravel_multi_index((window, target.position, target.action), shape)
        size = int(np.prod(shape))
        if self.method == "mean_propensity":
            sums = np.bincount(flat, weights=w * target.pscore, minlength=size)
            counts = np.bincount(flat, weights=w, minlength=size)
            with np.errstate(invalid="ignore", divide="ignore"):
                table = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), 0.0)
        else:
            table = np.bincount(flat, weights=w, minlength=size).reshape(windows, -1, target.n_actions)
            totals = table.sum(axis=2, keepdims=True)
            # A window/position with no rounds falls back to the overall frequency of that position.
            overall = table.sum(axis=0, keepdims=True)
            overall = overall / np.maximum(overall.sum(axis=2, keepdims=True), 1e-300)
            table = np.where(totals > 0, table / np.where(totals > 0, totals, 1), overall)
        self.table_ = np.asarray(table).reshape(shape)
        self.n_positions_ = target.n_positions
        self.n_actions_ = target.n_actions
        return self

    def action_dist(self, feedback: LoggedFeedback) -> np.ndarray:
        """``π_e(· | round)`` for every round of ``feedback``: shape ``(rounds, actions)``."""
        if not hasattr(self, "table_"):
            raise RuntimeError("LoggedPolicyDistribution is not fitted; call fit(target_logs) first")
        if feedback.n_actions != self.n_actions_:
            raise FeedbackError(
                f"the logs have {feedback.n_actions} actions, the target policy {self.n_actions_}"
            )
        if self.table_.shape[0] > 1:
            if feedback.timestamp is None:
                raise FeedbackError("a time-local distribution needs timestamps in the evaluated logs")
            t = feedback.timestamp.astype("datetime64[us]").astype(np.int64)
            window = np.clip(np.searchsorted(self.edges_, t, side="right") - 1, 0, self.table_.shape[0] - 1)
        else:
            window = np.zeros(feedback.n_rounds, dtype=np.int64)
        return self.table_[window, feedback.position]

    def position_sums(self) -> np.ndarray:
        """Σ_a π(a | position) per window and position (1 for a proper distribution)."""
        return self.table_.sum(axis=2)
