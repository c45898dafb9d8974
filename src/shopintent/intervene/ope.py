"""The Saito et al. check: estimate a logged policy's value from another policy's logs.

Given logs of a behaviour policy (OBD: uniform random) and logs of a target
policy (OBD: Bernoulli Thompson Sampling), :func:`evaluate_logged_policy`
estimates the target's click rate from the behaviour logs with every
estimator, and compares it with the target's on-policy click rate from its own
logs. Both sides are uncertain (each OBD sample file holds only ~50–70 clicks),
so it reports an interval for each and a bootstrap of their *difference* that
resamples both logs together: the target's action distribution is re-estimated
from every resample of the target logs, and the cross-fitted reward model of
DM / DR / switch-DR is refitted on every resample of the behaviour logs, so
both sources of estimation noise are in the intervals too. An estimator
"passes" when the difference's interval covers 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.base import clone

from shopintent.intervene.action_dist import LoggedPolicyDistribution
from shopintent.intervene.estimators import OPEEstimator, default_estimators
from shopintent.intervene.feedback import LoggedFeedback
from shopintent.intervene.intervals import Interval, bootstrap_counts, percentile_interval, ratio_interval
from shopintent.intervene.reward_model import CrossFitRewards
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
    n_refits: int | None = None,
) -> OPEReport:
    """Estimate the target policy's value from ``logs`` and check it against ``target_logs``.

    One joint bootstrap gives every interval: each replicate resamples both
    logs, re-estimates the target's action distribution (for the difference)
    and, in the first ``n_refits`` replicates (default: all ``n_bootstrap``),
    refits the cross-fitted reward model on the resampled behaviour rounds;
    estimators that use ``q̂`` are bootstrapped over those replicates only.
    ``n_refits=0`` holds ``q̂`` fixed (conditional, too-narrow intervals).
    """
    estimators = estimators if estimators is not None else default_estimators()
    n_refits = n_bootstrap if n_refits is None else n_refits
    if not 0 <= n_refits <= n_bootstrap:
        raise ValueError(f"n_refits must be in 0..n_bootstrap ({n_bootstrap}), got {n_refits}")
    dist = LoggedPolicyDistribution(dist_method, n_windows).fit(target_logs)
    action_dist = dist.action_dist(logs)
    rewards = CrossFitRewards(n_folds=n_folds, C=C, random_state=random_state).fit(logs)
    q = rewards.estimated_rewards_
    truth = target_logs.on_policy_value()
    target_interval = ratio_interval(target_logs.reward, np.ones(target_logs.n_rounds), n_bootstrap,
                                     random_state=random_state + 1)
    behaviour_interval = ratio_interval(logs.reward, np.ones(logs.n_rounds), n_bootstrap,
                                        random_state=random_state + 2)
    rng = np.random.default_rng(random_state + 3)
    reps, diffs = _joint_bootstrap(logs, target_logs, estimators, action_dist, rewards,
                                   LoggedPolicyDistribution(dist_method, n_windows), n_bootstrap,
                                   n_refits, rng)
    results = _results(logs, estimators, action_dist, q, truth, reps, diffs)
    log.info("ope finished", target=target_logs.policy, truth=truth,
             best=min(results, key=lambda r: r.relative_error).estimator)
    return OPEReport(
        behaviour_policy=logs.policy,
        target_policy=target_logs.policy,
        target_on_policy=target_interval,
        behaviour_on_policy=behaviour_interval,
        results=results,
        parameters={"dist_method": dist_method, "n_windows": n_windows, "n_bootstrap": n_bootstrap,
                    "n_refits": n_refits, "n_folds": n_folds, "C": C, "seed": random_state,
                    "estimators": [repr(e) for e in estimators],
                    "behaviour_rounds": logs.n_rounds, "target_rounds": target_logs.n_rounds},
        position_sums=dist.position_sums().mean(axis=0).round(4).tolist(),
    )


def _joint_bootstrap(
    logs: LoggedFeedback,
    target_logs: LoggedFeedback,
    estimators: list[OPEEstimator],
    action_dist: np.ndarray,
    rewards: CrossFitRewards,
    unfitted_dist: LoggedPolicyDistribution,
    n_bootstrap: int,
    n_refits: int,
    rng: np.random.Generator,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each estimator's bootstrap replicates of its value and of its difference to the target's
    on-policy value: both logs resampled together, the target distribution re-estimated and, in
    the first ``n_refits`` replicates, the reward model refitted (see :func:`evaluate_logged_policy`)."""
    q = rewards.estimated_rewards_
    modelled = any(est.needs_reward_model for est in estimators)
    fixed_terms = {est.name: est.terms(logs, action_dist, q) for est in estimators
                   if not est.needs_reward_model or n_refits == 0}
    reps: dict[str, list[float]] = {est.name: [] for est in estimators}
    diffs: dict[str, list[float]] = {est.name: [] for est in estimators}
    target_counts = bootstrap_counts(target_logs.n_rounds, n_bootstrap, rng)
    logs_counts = bootstrap_counts(logs.n_rounds, n_bootstrap, rng)
    done = 0
    for t_chunk, l_chunk in zip(target_counts, logs_counts, strict=True):
        values_t = t_chunk @ target_logs.reward / target_logs.n_rounds
        refit_rows = min(len(l_chunk), max(0, n_refits - done)) if modelled else 0
        refitted = rewards.replicates(l_chunk[:refit_rows], rng) if refit_rows else iter(())
        for b in range(len(t_chunk)):
            replicate = clone(unfitted_dist).fit(target_logs, weights=t_chunk[b])
            dist_b = replicate.action_dist(logs)
            q_b = next(refitted) if b < refit_rows else None
            counts = l_chunk[b]
            for est in estimators:
                if est.name in fixed_terms:
                    here, moved = fixed_terms[est.name], est.terms(logs, dist_b, q)
                elif q_b is not None:
                    here, moved = est.terms(logs, action_dist, q_b), est.terms(logs, dist_b, q_b)
                else:
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):
                    reps[est.name].append(float((counts @ here.num) / (counts @ here.den)))
                    diffs[est.name].append(float((counts @ moved.num) / (counts @ moved.den) - values_t[b]))
        done += len(t_chunk)
    return reps, diffs


def _results(
    logs: LoggedFeedback,
    estimators: list[OPEEstimator],
    action_dist: np.ndarray,
    q: np.ndarray,
    truth: float,
    reps: dict[str, list[float]],
    diffs: dict[str, list[float]],
) -> list[EstimatorResult]:
    """Each estimator's value with its percentile interval, and its error against ``truth``."""
    results = []
    for est in estimators:
        estimate = percentile_interval(est.estimate(logs, action_dist, q), np.array(reps[est.name]))
        replicates = np.array(diffs[est.name])
        results.append(
            EstimatorResult(
                estimator=est.name,
                estimate=estimate,
                relative_error=abs(estimate.value - truth) / truth if truth else float("nan"),
                difference=percentile_interval(estimate.value - truth, replicates),
            )
        )
    return results
