"""Off-policy estimators: the value of a target policy from another policy's logs.

Each estimator answers "what mean reward would the target policy ``π_e`` have
earned?" from rounds logged by a behaviour policy ``π_b`` whose propensities
were recorded. With ``w_i = π_e(a_i | x_i) / π_b(a_i | x_i)`` and a reward model
``q̂(x, a)``:

======================  ==========================================================
``DirectMethod``        mean_i Σ_a π_e(a|x_i) q̂(x_i, a)       (biased by q̂, low variance)
``IPS``                 mean_i w_i r_i                        (unbiased, high variance)
``SNIPS``               Σ w_i r_i / Σ w_i                     (self-normalised IPS)
``DoublyRobust``        DM + mean_i w_i (r_i − q̂(x_i, a_i))   (unbiased if π_b is right)
``SwitchDR``            DR where w_i ≤ τ, DM elsewhere
``ClippedIPS``          mean_i min(w_i, λ) r_i
======================  ==========================================================

All are ``sum(num) / sum(den)`` over rounds, which makes their bootstrap
intervals cheap (:mod:`shopintent.intervene.intervals`).

Example::

    >>> import numpy as np
    >>> from shopintent.intervene.feedback import LoggedFeedback
    >>> fb = LoggedFeedback(action=[0, 1], position=[0, 0], reward=[1.0, 0.0],
    ...                     pscore=[0.5, 0.5], action_names=("a", "b"))
    >>> IPS().estimate(fb, np.array([[1.0, 0.0], [1.0, 0.0]]))
    1.0
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from shopintent.intervene.feedback import FeedbackError, LoggedFeedback
from shopintent.intervene.intervals import Interval, ratio_interval


@dataclass(frozen=True)
class Terms:
    """Per-round numerator and denominator: the estimate is ``num.sum() / den.sum()``."""

    num: np.ndarray
    den: np.ndarray


def importance_weights(feedback: LoggedFeedback, action_dist: np.ndarray) -> np.ndarray:
    """``π_e(a_i | x_i) / π_b(a_i | x_i)`` for every logged round."""
    _check_dist(feedback, action_dist, "action_dist")
    target = action_dist[np.arange(feedback.n_rounds), feedback.action]
    return target / feedback.pscore


def _check_dist(feedback: LoggedFeedback, array: np.ndarray, name: str) -> None:
    expected = (feedback.n_rounds, feedback.n_actions)
    if array.shape != expected:
        raise FeedbackError(f"`{name}` has shape {array.shape}; expected (rounds, actions) = {expected}")


class OPEEstimator(ABC):
    """Shape shared by every estimator: hyper-parameters in ``__init__``, no fitting."""

    name: str = ""
    needs_reward_model: bool = False

    @abstractmethod
    def terms(
        self, feedback: LoggedFeedback, action_dist: np.ndarray, estimated_rewards: np.ndarray | None = None
    ) -> Terms:
        """Per-round numerator and denominator of the estimate."""

    def estimate(
        self, feedback: LoggedFeedback, action_dist: np.ndarray, estimated_rewards: np.ndarray | None = None
    ) -> float:
        """The target policy's estimated mean reward per round."""
        t = self.terms(feedback, action_dist, estimated_rewards)
        return float(t.num.sum() / t.den.sum())

    def estimate_interval(
        self,
        feedback: LoggedFeedback,
        action_dist: np.ndarray,
        estimated_rewards: np.ndarray | None = None,
        n_bootstrap: int = 2000,
        level: float = 0.95,
        random_state: int = 0,
    ) -> Interval:
        """The estimate with a bootstrap percentile interval over logged rounds.

        The reward model (if any) is held fixed across replicates, as in OBP.
        """
        t = self.terms(feedback, action_dist, estimated_rewards)
        return ratio_interval(t.num, t.den, n_bootstrap, level, random_state)

    def _rewards(self, feedback: LoggedFeedback, estimated_rewards: np.ndarray | None) -> np.ndarray:
        if estimated_rewards is None:
            raise FeedbackError(f"{self.name} needs `estimated_rewards` from a reward model")
        _check_dist(feedback, estimated_rewards, "estimated_rewards")
        return estimated_rewards

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class DirectMethod(OPEEstimator):
    """Average the reward model's prediction under the target policy."""

    name = "dm"
    needs_reward_model = True

    def terms(self, feedback, action_dist, estimated_rewards=None):  # type: ignore[no-untyped-def]
        _check_dist(feedback, action_dist, "action_dist")
        q = self._rewards(feedback, estimated_rewards)
        return Terms((action_dist * q).sum(axis=1), np.ones(feedback.n_rounds))


class IPS(OPEEstimator):
    """Inverse propensity scoring: reweight observed rewards by ``π_e / π_b``."""

    name = "ips"

    def terms(self, feedback, action_dist, estimated_rewards=None):  # type: ignore[no-untyped-def]
        w = importance_weights(feedback, action_dist)
        return Terms(w * feedback.reward, np.ones(feedback.n_rounds))


class SNIPS(OPEEstimator):
    """Self-normalised IPS: divide by the sum of weights instead of the round count."""

    name = "snips"

    def terms(self, feedback, action_dist, estimated_rewards=None):  # type: ignore[no-untyped-def]
        w = importance_weights(feedback, action_dist)
        return Terms(w * feedback.reward, w)


class ClippedIPS(OPEEstimator):
    """IPS with weights clipped at ``max_weight`` (trades a little bias for variance)."""

    name = "clipped_ips"

    def __init__(self, max_weight: float = 5.0) -> None:
        if max_weight <= 0:
            raise ValueError(f"max_weight must be > 0, got {max_weight}")
        self.max_weight = max_weight

    def terms(self, feedback, action_dist, estimated_rewards=None):  # type: ignore[no-untyped-def]
        w = np.minimum(importance_weights(feedback, action_dist), self.max_weight)
        return Terms(w * feedback.reward, np.ones(feedback.n_rounds))


class DoublyRobust(OPEEstimator):
    """Direct method plus an importance-weighted correction of the model's residual."""

    name = "dr"
    needs_reward_model = True

    def terms(self, feedback, action_dist, estimated_rewards=None):  # type: ignore[no-untyped-def]
        q = self._rewards(feedback, estimated_rewards)
        w = importance_weights(feedback, action_dist)
        rows = np.arange(feedback.n_rounds)
        dm = (action_dist * q).sum(axis=1)
        return Terms(dm + w * (feedback.reward - q[rows, feedback.action]), np.ones(feedback.n_rounds))


class SwitchDR(OPEEstimator):
    """DR where the weight is at most ``tau``; the direct method where it is larger."""

    name = "switch_dr"
    needs_reward_model = True

    def __init__(self, tau: float = 5.0) -> None:
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        self.tau = tau

    def terms(self, feedback, action_dist, estimated_rewards=None):  # type: ignore[no-untyped-def]
        q = self._rewards(feedback, estimated_rewards)
        w = importance_weights(feedback, action_dist)
        rows = np.arange(feedback.n_rounds)
        dm = (action_dist * q).sum(axis=1)
        keep = w <= self.tau
        return Terms(dm + keep * w * (feedback.reward - q[rows, feedback.action]), np.ones(feedback.n_rounds))


def default_estimators(clip: float = 5.0, tau: float = 5.0) -> list[OPEEstimator]:
    """The six estimators the reports run, in a fixed order."""
    return [DirectMethod(), IPS(), SNIPS(), DoublyRobust(), SwitchDR(tau=tau), ClippedIPS(max_weight=clip)]
