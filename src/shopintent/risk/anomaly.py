"""Session anomalies without labels: an Isolation Forest over behaviour features, with reason codes.

No shop labels its bots, so this detector learns what real sessions look
like and scores how easily a session is isolated from them. Each session
(one user's events with no gap longer than the session gap) is described by
:data:`SESSION_FEATURES`: speed (events per minute, median gap), breadth
(distinct items and categories), regularity (coefficient of variation of the
gaps: scripts click on a clock, people do not), cart-without-view (carts of
items the session never viewed), the shares of carts and purchases, night
activity (00:00–06:00 in the shop's time zone). Per-user history (sessions
per user) is left out on purpose: the Taobao head holds 815 users followed
for nine days (each has three sessions or more), so any new account would
look strange for that reason alone, and a simulated bot would be caught for
being new rather than for how it behaves.

Reason codes: for every feature the detector keeps the real sessions'
distribution (sessions of three events or more) and names the features on
which a session lies beyond the ``reason_quantile`` (default 1 % / 99 %) of
real sessions, most extreme first (``"events_per_min 42.0 above 99 % of real sessions (max seen 6.3)"``).
They say *why a session looks unusual*, which the forest alone does not.

The evaluation (benchmark ``risk``) injects simulated bots
(:mod:`shopintent.risk.simulate_bots`) into held-out real Taobao sessions and
reports recall at the threshold that flags 1 % of the real ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from shopintent.risk.session_features import SESSION_FEATURES, Reason, session_features, sessionise

__all__ = ["SESSION_FEATURES", "AnomalyDetector", "Reason", "session_features", "sessionise"]


class AnomalyDetector(BaseEstimator):
    """Isolation Forest over :data:`SESSION_FEATURES` with per-feature reason codes.

    Parameters: ``n_estimators``, ``max_samples`` (of the forest),
    ``reason_quantile`` (a feature is a reason beyond this quantile of the
    real sessions, either side), ``reason_min_events`` (the reasons' reference is the real sessions
    with at least this many events), ``contamination``, ``random_state``.

    Learned: ``forest_``, ``feature_names_``, ``low_`` / ``high_`` (the reason
    quantiles per feature), ``min_`` / ``max_`` (seen range), ``threshold_``
    (the anomaly score flagging ``contamination`` of the training sessions: 1 %).

    Examples
    --------
    >>> from shopintent.datasets import taobao_userbehavior_head as taobao
    >>> X = session_features(taobao.load().events.head(20_000))
    >>> detector = AnomalyDetector(n_estimators=50).fit(X)
    >>> float((detector.score(X) >= detector.threshold_).mean()) <= 0.02
    True
    """

    def __init__(self, n_estimators: int = 200, max_samples: int | str = "auto",
                 reason_quantile: float = 0.99, reason_min_events: int = 3, contamination: float = 0.01,
                 random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.reason_min_events = reason_min_events
        self.max_samples = max_samples
        self.reason_quantile = reason_quantile
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any = None) -> AnomalyDetector:
        """Learn what the sessions of ``X`` (assumed mostly human) look like; ``y`` is ignored."""
        if len(X) < 10:
            raise ValueError(f"need at least 10 sessions to learn from, got {len(X)}")
        self.feature_names_ = list(X.columns)
        values = X.to_numpy(dtype=float)
        if not np.isfinite(values).all():
            bad = X.columns[~np.isfinite(values).all(axis=0)].tolist()
            raise ValueError(f"session feature(s) {bad} hold missing or infinite values")
        # imported here: the service loads a fitted forest as arrays (session_scorer) and never fits,
        # and sklearn.ensemble's import was ~0.15 s CPU of every start
        from sklearn.ensemble import IsolationForest

        self.forest_ = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                       random_state=self.random_state, n_jobs=1).fit(values)
        # reasons compare with sessions long enough for shares to mean something: among one- and
        # two-event sessions a cart share of 1.0 is common, so it could never be a reason
        reference = values
        if "n_events" in X.columns and (X["n_events"] >= self.reason_min_events).sum() >= 10:
            reference = values[(X["n_events"] >= self.reason_min_events).to_numpy()]
        self.low_ = np.quantile(reference, 1 - self.reason_quantile, axis=0)
        self.high_ = np.quantile(reference, self.reason_quantile, axis=0)
        self.min_, self.max_ = reference.min(axis=0), reference.max(axis=0)
        self.threshold_ = float(np.quantile(self.score(X), 1 - self.contamination))
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Anomaly score per session: higher is stranger (the forest's negated ``score_samples``)."""
        check_is_fitted(self, "forest_")
        return -self.forest_.score_samples(X[self.feature_names_].to_numpy(dtype=float))

    def reasons(self, X: pd.DataFrame, top: int = 3) -> list[list[Reason]]:
        """Per session, up to ``top`` features beyond the reason quantiles, the most extreme first."""
        check_is_fitted(self, "forest_")
        values = X[self.feature_names_].to_numpy(dtype=float)
        span = np.maximum(self.high_ - self.low_, 1e-9)
        above = (values - self.high_) / span
        below = (self.low_ - values) / span
        out = []
        for row in range(len(values)):
            found = []
            for j, name in enumerate(self.feature_names_):
                if above[row, j] > 0:
                    found.append((above[row, j], Reason(name, values[row, j], self.reason_quantile, "above",
                                                        float(self.max_[j]))))
                elif below[row, j] > 0:
                    found.append((below[row, j], Reason(name, values[row, j], self.reason_quantile, "below",
                                                        float(self.min_[j]))))
            found.sort(key=lambda pair: -pair[0])
            out.append([reason for _, reason in found[:top]])
        return out
