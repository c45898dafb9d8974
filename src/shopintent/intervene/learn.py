"""Learn a contextual recommendation policy from uniformly random logs, and value it honestly.

Two learners, both fitted only on the earlier part of the random log:

- :class:`RewardGreedyPolicy` fits the click model ``q̂(x, a, position)`` and
  shows, per position, the item with the highest predicted click rate;
- :class:`IPWPolicyLearner` treats policy learning as weighted classification
  (the clicked item is the label, weighted by ``1/propensity``), which is the
  IPW policy learner of the OPE literature.

Both keep ``epsilon`` uniform exploration so their own future logs stay usable
for OPE. :func:`learn_and_evaluate` values the learned policy on the *later*
part of the random log with IPS / SNIPS / DR (reward model fitted on the
earlier part) and sets it against both logging policies over the same period,
with bootstrap intervals for the lifts: a win is claimed only when the lift's
interval excludes 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from shopintent.intervene.estimators import IPS, SNIPS, DoublyRobust, OPEEstimator
from shopintent.intervene.feedback import LoggedFeedback
from shopintent.intervene.intervals import Interval, bootstrap_counts, percentile_interval, ratio_interval
from shopintent.intervene.reward_model import HoldoutRewards, RewardModel
from shopintent.persist import begin_save, write_manifest, write_model_json

LEARNERS: tuple[str, ...] = ("reward_greedy", "ipw")
#: Softmax temperatures ``auto`` chooses from (0 = greedy, inf = uniform).
TEMPERATURES: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, float("inf"))


def _explore(best: np.ndarray, n_actions: int, epsilon: float) -> np.ndarray:
    dist = np.full((len(best), n_actions), epsilon / n_actions)
    dist[np.arange(len(best)), best] += 1.0 - epsilon
    return dist


class RewardGreedyPolicy(BaseEstimator):
    """Show items by predicted click rate: greedy (``temperature=0``) or softmax on the logit.

    With a few dozen clicks the click model is mostly noise, and a greedy
    policy bets everything on it; a softmax over ``logit q̂ / temperature``
    hedges (``temperature=inf`` is uniform). ``temperature="auto"`` picks one
    from :data:`TEMPERATURES` by SNIPS on the last 30% (by time) of the
    training rounds, refitting on the first 70% — never on the evaluation split.

    Learned: ``reward_model_``, ``temperature_``, ``selection_`` (validation value per temperature).

    >>> from shopintent.samples import obd_feedback
    >>> feedback = obd_feedback()
    >>> policy = RewardGreedyPolicy(temperature=0.5).fit(feedback)
    >>> policy.temperature_, policy.reward_model_.action_coef_.shape
    (0.5, (34,))
    """

    name = "reward_greedy"

    def __init__(self, epsilon: float = 0.1, C: float = 0.1, temperature: float | str = "auto") -> None:
        self.epsilon = epsilon
        self.C = C
        self.temperature = temperature

    def fit(self, feedback: LoggedFeedback) -> RewardGreedyPolicy:
        """Fit the click model on logged rounds (and pick the temperature if ``"auto"``)."""
        self.selection_: dict[str, float] = {}
        if self.temperature == "auto":
            inner_train, inner_valid, _ = time_split(feedback, 0.7)
            model = RewardModel(C=self.C).fit(inner_train)
            q = model.predict(inner_valid)
            for t in TEMPERATURES:
                dist = self._dist(q, t, inner_valid.n_actions)
                self.selection_[str(t)] = SNIPS().estimate(inner_valid, dist)
            self.temperature_ = float(max(TEMPERATURES, key=lambda t: self.selection_[str(t)]))
        else:
            self.temperature_ = float(self.temperature)
        self.reward_model_ = RewardModel(C=self.C).fit(feedback)
        return self

    def _dist(self, q: np.ndarray, temperature: float, n_actions: int) -> np.ndarray:
        if temperature == 0:
            return _explore(q.argmax(axis=1), n_actions, self.epsilon)
        if np.isinf(temperature):
            return np.full(q.shape, 1.0 / n_actions)
        logit = np.log(q) - np.log1p(-q)
        z = (logit - logit.max(axis=1, keepdims=True)) / temperature
        soft = np.exp(z)
        soft /= soft.sum(axis=1, keepdims=True)
        return (1.0 - self.epsilon) * soft + self.epsilon / n_actions

    def action_dist(self, feedback: LoggedFeedback) -> np.ndarray:
        """``π(a | round)`` for every round: ``(rounds, actions)``."""
        return self._dist(self.reward_model_.predict(feedback), self.temperature_, feedback.n_actions)

    def to_dict(self) -> dict[str, object]:
        """Parameters and learned coefficients."""
        return {"epsilon": self.epsilon, "C": self.C, "temperature": self.temperature_,
                "selection": self.selection_, "reward_model": self.reward_model_.to_dict()}


class IPWPolicyLearner(BaseEstimator):
    """Weighted classification: predict the clicked item, weighting clicks by 1/propensity.

    Features are the round's context, the position one-hot and the user's
    affinity to every item. Learned: ``classifier_``, ``classes_``.

    >>> from shopintent.samples import obd_feedback
    >>> learner = IPWPolicyLearner().fit(obd_feedback())
    >>> len(learner.classes_) > 1
    True
    """

    name = "ipw"

    def __init__(self, epsilon: float = 0.1, C: float = 0.1) -> None:
        self.epsilon = epsilon
        self.C = C

    @staticmethod
    def _features(feedback: LoggedFeedback) -> np.ndarray:
        blocks = [np.eye(feedback.n_positions)[feedback.position]]
        if feedback.context is not None:
            blocks.append(feedback.context)
        if feedback.action_context is not None:
            blocks.append(feedback.action_context.reshape(feedback.n_rounds, -1))
        return np.hstack(blocks)

    def fit(self, feedback: LoggedFeedback) -> IPWPolicyLearner:
        """Fit on the clicked rounds (the only ones with a non-zero IPW label weight)."""
        clicked = feedback.reward > 0
        if clicked.sum() < 2 or len(np.unique(feedback.action[clicked])) < 2:
            raise ValueError("IPW policy learning needs clicks on at least two different items")
        X = self._features(feedback)[clicked]
        y = feedback.action[clicked]
        weight = (feedback.reward / feedback.pscore)[clicked]
        self.classifier_ = LogisticRegression(C=self.C, max_iter=1000).fit(X, y, sample_weight=weight / weight.mean())
        self.classes_ = self.classifier_.classes_
        return self

    def action_dist(self, feedback: LoggedFeedback) -> np.ndarray:
        """``π(a | round)`` for every round: ``(rounds, actions)``."""
        proba = self.classifier_.predict_proba(self._features(feedback))
        best = self.classes_[proba.argmax(axis=1)]
        return _explore(best, feedback.n_actions, self.epsilon)

    def to_dict(self) -> dict[str, object]:
        """Parameters and learned coefficients."""
        return {"epsilon": self.epsilon, "C": self.C, "classes": self.classes_.tolist(),
                "coef": self.classifier_.coef_.tolist(), "intercept": self.classifier_.intercept_.tolist()}


def make_learner(name: str, epsilon: float = 0.1, C: float = 0.1) -> RewardGreedyPolicy | IPWPolicyLearner:
    """A learner by name (``reward_greedy`` or ``ipw``)."""
    if name == "reward_greedy":
        return RewardGreedyPolicy(epsilon=epsilon, C=C)
    if name == "ipw":
        return IPWPolicyLearner(epsilon=epsilon, C=C)
    raise ValueError(f"unknown learner {name!r}; use one of {', '.join(LEARNERS)}")


def time_split(feedback: LoggedFeedback, train_share: float) -> tuple[LoggedFeedback, LoggedFeedback, np.datetime64]:
    """Earlier ``train_share`` of the rounds (by time) and the later rest, and the cut time."""
    if feedback.timestamp is None:
        raise ValueError("a time split needs timestamps in the logs")
    if not 0.0 < train_share < 1.0:
        raise ValueError(f"train_share must be in (0, 1), got {train_share}")
    cut = np.sort(feedback.timestamp)[int(train_share * feedback.n_rounds)]
    return feedback.subset(feedback.timestamp < cut), feedback.subset(feedback.timestamp >= cut), cut


@dataclass
class PolicyLearningReport:
    """The learned policy's value on the later split, against both logging policies."""

    learner: str
    values: dict[str, Interval]
    random_value: Interval
    target_value: Interval | None
    lift_vs_random: dict[str, Interval]
    lift_vs_target: dict[str, Interval]
    parameters: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Plain numbers for JSON; ``win`` only where the lift's interval excludes 1."""
        def lift(d: dict[str, Interval]) -> dict[str, object]:
            return {k: {**v.as_dict(), "win": v.low > 1.0} for k, v in d.items()}
        return {
            "learner": self.learner,
            "learned_value": {k: v.as_dict() for k, v in self.values.items()},
            "random_on_policy": self.random_value.as_dict(),
            "target_on_policy": None if self.target_value is None else self.target_value.as_dict(),
            "lift_vs_random": lift(self.lift_vs_random),
            "lift_vs_target": lift(self.lift_vs_target),
            "parameters": self.parameters,
        }


def learn_and_evaluate(
    logs: LoggedFeedback,
    target_logs: LoggedFeedback | None = None,
    learner: str = "reward_greedy",
    train_share: float = 0.5,
    epsilon: float = 0.1,
    C: float = 0.1,
    n_bootstrap: int = 1000,
    random_state: int = 0,
    n_refits: int | None = None,
) -> tuple[RewardGreedyPolicy | IPWPolicyLearner, PolicyLearningReport]:
    """Fit on the earlier part of ``logs``, value on the later part, compare with both log policies.

    DR's ``q̂`` is fitted on the earlier part; in each of its bootstrap
    replicates (the first ``n_refits``, default all ``n_bootstrap``) it is
    refitted on a resample of the earlier part, so DR's intervals carry the
    model's noise. ``n_refits=0`` holds it fixed.
    """
    train, test, cut = time_split(logs, train_share)
    policy = make_learner(learner, epsilon, C).fit(train)
    dist = policy.action_dist(test)
    n_refits = n_bootstrap if n_refits is None else n_refits
    if not 0 <= n_refits <= n_bootstrap:
        raise ValueError(f"n_refits must be in 0..n_bootstrap ({n_bootstrap}), got {n_refits}")
    rewards = HoldoutRewards(C=C).fit(train, test)
    q = rewards.estimated_rewards_
    estimators: list[OPEEstimator] = [IPS(), SNIPS(), DoublyRobust()]
    values, lift_random, lift_target = {}, {}, {}
    ones = np.ones(test.n_rounds)
    random_value = ratio_interval(test.reward, ones, n_bootstrap, random_state=random_state + 1)
    target_test = None
    target_value = None
    if target_logs is not None:
        if target_logs.timestamp is None:
            raise ValueError("the target logs need timestamps to take the same later period")
        target_test = target_logs.subset(target_logs.timestamp >= cut)
        target_value = ratio_interval(target_test.reward, np.ones(target_test.n_rounds), n_bootstrap,
                                      random_state=random_state + 2)
    for est in estimators:
        terms = est.terms(test, dist, q)
        refit = est.needs_reward_model and n_refits > 0
        rng = np.random.default_rng(random_state + 3)
        reps_v, reps_r, reps_t = [], [], []
        n_reps = n_refits if refit else n_bootstrap
        target_chunks = (bootstrap_counts(target_test.n_rounds, n_reps, rng)
                         if target_test is not None else None)
        for counts in bootstrap_counts(test.n_rounds, n_reps, rng):
            if refit:
                refitted = [est.terms(test, dist, q_b) for q_b in rewards.replicates(counts, rng)]
                learned = np.array([(c @ t.num) / (c @ t.den)
                                    for c, t in zip(counts, refitted, strict=True)])
            else:
                learned = (counts @ terms.num) / (counts @ terms.den)
            reps_v.append(learned)
            with np.errstate(divide="ignore", invalid="ignore"):
                reps_r.append(learned / (counts @ test.reward / test.n_rounds))
                if target_chunks is not None:
                    t_counts = next(target_chunks)
                    reps_t.append(learned / (t_counts @ target_test.reward / target_test.n_rounds))
        point = float(terms.num.sum() / terms.den.sum())
        values[est.name] = percentile_interval(point, np.concatenate(reps_v))
        lift_random[est.name] = percentile_interval(point / random_value.value, np.concatenate(reps_r))
        if target_value is not None:
            lift_target[est.name] = percentile_interval(point / target_value.value, np.concatenate(reps_t))
    report = PolicyLearningReport(
        learner=learner, values=values, random_value=random_value, target_value=target_value,
        lift_vs_random=lift_random, lift_vs_target=lift_target,
        parameters={"train_share": train_share, "epsilon": epsilon, "C": C, "n_bootstrap": n_bootstrap,
                    "n_refits": n_refits, "seed": random_state, "split_time": str(cut),
                    "temperature": getattr(policy, "temperature_", None), "train_rounds": train.n_rounds,
                    "test_rounds": test.n_rounds, "train_clicks": int(train.reward.sum()),
                    "test_clicks": int(test.reward.sum()),
                    "target_test_rounds": None if target_test is None else target_test.n_rounds},
    )
    return policy, report


def save_policy(policy: RewardGreedyPolicy | IPWPolicyLearner, report: PolicyLearningReport, path: Path,
                data_checksum: str = "") -> Path:
    """Write ``path/model.json`` (version, parameters, data checksum, held-out metrics, coefficients)
    and its manifest, in :mod:`shopintent.persist`'s format."""
    path = begin_save(path)
    write_model_json(path, type(policy).__name__, 1, report.parameters, data_checksum=data_checksum,
                     metrics=report.as_dict(), learned=policy.to_dict())
    write_manifest(path)
    return path
