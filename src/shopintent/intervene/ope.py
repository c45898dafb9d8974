"""The Saito et al. check: estimate a logged policy's value from another policy's logs.

Given logs of a behaviour policy (OBD: uniform random) and logs of a target
policy (OBD: Bernoulli Thompson Sampling), :func:`evaluate_logged_policy`
estimates the target's click rate from the behaviour logs with every
estimator, and compares it with the target's on-policy click rate from its own
logs. Both sides are uncertain (each OBD sample file holds only ~50–70 clicks),
so it reports an interval for each and a bootstrap of their *difference* that
resamples both logs together: the target's action distribution is re-estimated
from every resample of the target logs, so its estimation noise is in the
interval too. An estimator "passes" when that interval covers 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from shopintent.intervene.action_dist import LoggedPolicyDistribution
from shopintent.intervene.estimators import OPEEstimator, default_estimators
from shopintent.intervene.feedback import LoggedFeedback
from shopintent.intervene.intervals import Interval, bootstrap_counts, percentile_interval, ratio_interval
from shopintent.intervene.reward_model import cross_fit_predict
from shopintent.log import get_logger

log = get_logger(__name__)


@dataclass
class EstimatorResult:
    """One estimator's estimate of the target value and how it compares with the truth."""

    estimator: str
    estimate: Interval
    relative_error: float
    difference: Interval

    def as_dict(self) -> dict[str, object]:
        """Plain numbers for JSON."""
        return {
            "estimator": self.estimator,
            "estimate": self.estimate.value,
            "ci_low": self.estimate.low,
            "ci_high": self.estimate.high,
            "relative_error": self.relative_error,
            "difference": self.difference.value,
            "difference_ci_low": self.difference.low,
            "difference_ci_high": self.difference.high,
            "difference_ci_covers_0": self.difference.covers(0.0),
        }


@dataclass
class OPEReport:
    """Every estimator's result plus the on-policy values of both logs."""

    behaviour_policy: str
    target_policy: str
    target_on_policy: Interval
    behaviour_on_policy: Interval
    results: list[EstimatorResult]
    parameters: dict[str, object] = field(default_factory=dict)
    position_sums: list[float] = field(default_factory=list)

    def best(self) -> EstimatorResult:
        """The estimator with the smallest relative error."""
        return min(self.results, key=lambda r: r.relative_error)

    def as_dict(self) -> dict[str, object]:
        """Plain numbers for JSON."""
        return {
            "behaviour_policy": self.behaviour_policy,
            "target_policy": self.target_policy,
            "target_on_policy": asdict(self.target_on_policy),
            "behaviour_on_policy": asdict(self.behaviour_on_policy),
            "target_action_dist_sum_per_position": self.position_sums,
            "estimators": [r.as_dict() for r in self.results],
            "parameters": self.parameters,
        }


def evaluate_logged_policy(
    logs: LoggedFeedback,
    target_logs: LoggedFeedback,
    estimators: list[OPEEstimator] | None = None,
    dist_method: str = "empirical",
    n_windows: int = 7,
    n_bootstrap: int = 1000,
    n_folds: int = 5,
    C: float = 0.1,
    random_state: int = 0,
) -> OPEReport:
    """Estimate the target policy's value from ``logs`` and check it against ``target_logs``."""
    estimators = estimators if estimators is not None else default_estimators()
    dist = LoggedPolicyDistribution(dist_method, n_windows).fit(target_logs)
    action_dist = dist.action_dist(logs)
    q = cross_fit_predict(logs, n_folds=n_folds, C=C, random_state=random_state)
    truth = target_logs.on_policy_value()
    target_interval = ratio_interval(target_logs.reward, np.ones(target_logs.n_rounds), n_bootstrap,
                                     random_state=random_state + 1)
    behaviour_interval = ratio_interval(logs.reward, np.ones(logs.n_rounds), n_bootstrap,
                                        random_state=random_state + 2)
    point = {}
    for est in estimators:
        point[est.name] = est.estimate_interval(logs, action_dist, q, n_bootstrap, random_state=random_state)
    # Joint bootstrap of (estimate − on-policy value) over both logs.
    rng = np.random.default_rng(random_state + 3)
    diffs: dict[str, list[np.ndarray]] = {est.name: [] for est in estimators}
    target_counts = bootstrap_counts(target_logs.n_rounds, n_bootstrap, rng)
    logs_counts = bootstrap_counts(logs.n_rounds, n_bootstrap, rng)
    for t_chunk, l_chunk in zip(target_counts, logs_counts, strict=True):
        values_t = t_chunk @ target_logs.reward / target_logs.n_rounds
        for b in range(len(t_chunk)):
            replicate = LoggedPolicyDistribution(dist_method, n_windows).fit(target_logs, weights=t_chunk[b])
            dist_b = replicate.action_dist(logs)
            for est in estimators:
                terms = est.terms(logs, dist_b, q)
                value = (l_chunk[b] @ terms.num) / (l_chunk[b] @ terms.den)
                diffs[est.name].append(np.array([value - values_t[b]]))
    results = []
    for est in estimators:
        estimate = point[est.name]
        replicates = np.concatenate(diffs[est.name])
        results.append(
            EstimatorResult(
                estimator=est.name,
                estimate=estimate,
                relative_error=abs(estimate.value - truth) / truth if truth else float("nan"),
                difference=percentile_interval(estimate.value - truth, replicates),
            )
        )
    log.info("ope finished", target=target_logs.policy, truth=truth,
             best=min(results, key=lambda r: r.relative_error).estimator)
    return OPEReport(
        behaviour_policy=logs.policy,
        target_policy=target_logs.policy,
        target_on_policy=target_interval,
        behaviour_on_policy=behaviour_interval,
        results=results,
        parameters={"dist_method": dist_method, "n_windows": n_windows, "n_bootstrap": n_bootstrap,
                    "n_folds": n_folds, "C": C, "seed": random_state,
                    "estimators": [repr(e) for e in estimators],
                    "behaviour_rounds": logs.n_rounds, "target_rounds": target_logs.n_rounds},
        position_sums=dist.position_sums().mean(axis=0).round(4).tolist(),
    )
