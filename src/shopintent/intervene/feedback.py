"""Logged bandit feedback as flat arrays: the one input every OPE estimator reads.

Off-policy estimators only need, per logged round, the action taken, the slot
(position) it was shown in, the reward observed and the probability the logging
policy gave that action (its propensity). Keeping them as aligned numpy arrays
(rather than a list of records) lets the estimators and their bootstrap run
vectorised over tens of thousands of rounds. :func:`from_records` builds one
from :class:`~shopintent.schema.records.BanditFeedback`; the OBD reader and the
decision-log reader build them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from shopintent.schema.records import BanditFeedback


class FeedbackError(ValueError):
    """Logged feedback that off-policy evaluation cannot use (names the row and field)."""


@dataclass
class LoggedFeedback:
    """Aligned arrays of one logging policy's rounds.

    ``action`` indexes ``action_names``; ``position`` is 0-based; ``pscore`` is
    the logging propensity of the logged action, in (0, 1]; ``context`` is an
    optional ``(n, d)`` feature matrix; ``timestamp`` optional ``datetime64``.
    """

    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    action_names: tuple[str, ...]
    n_positions: int = 1
    context: np.ndarray | None = None
    timestamp: np.ndarray | None = None
    action_context: np.ndarray | None = None
    policy: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.action = np.asarray(self.action, dtype=np.int64)
        self.position = np.asarray(self.position, dtype=np.int64)
        self.reward = np.asarray(self.reward, dtype=np.float64)
        self.pscore = np.asarray(self.pscore, dtype=np.float64)
        n = len(self.action)
        for name in ("position", "reward", "pscore"):
            if len(getattr(self, name)) != n:
                raise FeedbackError(f"`{name}` has {len(getattr(self, name))} rows, `action` has {n}")
        bad = np.flatnonzero(~((self.pscore > 0) & (self.pscore <= 1)))
        if bad.size:
            row = int(bad[0])
            raise FeedbackError(
                f"row {row + 1}: `propensity` {float(self.pscore[row])} is outside (0, 1]; "
                f"{bad.size} rows like it. Fix the logging policy's propensities before OPE."
            )
        bad = np.flatnonzero((self.action < 0) | (self.action >= len(self.action_names)))
        if bad.size:
            raise FeedbackError(
                f"row {int(bad[0]) + 1}: `action` index {int(self.action[bad[0]])} is not one of "
                f"the {len(self.action_names)} known actions"
            )
        bad = np.flatnonzero((self.position < 0) | (self.position >= self.n_positions))
        if bad.size:
            raise FeedbackError(
                f"row {int(bad[0]) + 1}: `position` {int(self.position[bad[0]])} is outside "
                f"0..{self.n_positions - 1}"
            )
        if self.context is not None and len(self.context) != n:
            raise FeedbackError(f"`context` has {len(self.context)} rows, `action` has {n}")
        if self.action_context is not None and self.action_context.shape[:2] != (n, self.n_actions):
            raise FeedbackError(
                f"`action_context` has shape {self.action_context.shape}; expected "
                f"(rounds, actions, k) with rounds={n}, actions={self.n_actions}"
            )

    @property
    def n_rounds(self) -> int:
        """How many logged rounds."""
        return len(self.action)

    @property
    def n_actions(self) -> int:
        """How many distinct actions the logs may hold."""
        return len(self.action_names)

    def on_policy_value(self) -> float:
        """The logging policy's own value: the mean observed reward."""
        return float(self.reward.mean()) if self.n_rounds else float("nan")

    def subset(self, mask: np.ndarray) -> LoggedFeedback:
        """The rounds where ``mask`` is true (a boolean array or index array)."""
        return LoggedFeedback(
            action=self.action[mask],
            position=self.position[mask],
            reward=self.reward[mask],
            pscore=self.pscore[mask],
            action_names=self.action_names,
            n_positions=self.n_positions,
            context=None if self.context is None else self.context[mask],
            timestamp=None if self.timestamp is None else self.timestamp[mask],
            action_context=None if self.action_context is None else self.action_context[mask],
            policy=self.policy,
            extra={k: v[mask] for k, v in self.extra.items()},
        )


def from_records(
    records: Iterable[BanditFeedback],
    action_names: Sequence[str] | None = None,
    context_keys: Sequence[str] | None = None,
) -> LoggedFeedback:
    """Turn :class:`BanditFeedback` records into arrays (positions are 1-based in records).

    ``action_names`` fixes the action index order (default: sorted actions seen);
    ``context_keys`` picks the context features (missing keys read as 0).
    """
    rows = list(records)
    names = tuple(action_names) if action_names is not None else tuple(sorted({r.action for r in rows}))
    index = {name: k for k, name in enumerate(names)}
    actions = []
    for row, record in enumerate(rows, start=1):
        if record.action not in index:
            raise FeedbackError(f"row {row}: `action` {record.action!r} is not in action_names")
        actions.append(index[record.action])
    positions = np.array([r.position - 1 for r in rows], dtype=np.int64)
    context = None
    if context_keys is not None:
        context = np.array([[r.context.get(key, 0.0) for key in context_keys] for r in rows], dtype=float)
    return LoggedFeedback(
        action=np.array(actions, dtype=np.int64),
        position=positions,
        reward=np.array([r.reward for r in rows], dtype=float),
        pscore=np.array([r.propensity for r in rows], dtype=float),
        action_names=names,
        n_positions=int(positions.max()) + 1 if len(rows) else 1,
        context=context,
        timestamp=np.array([np.datetime64(r.timestamp.replace(tzinfo=None), "us") for r in rows]),
        policy=rows[0].policy if rows else "",
    )
