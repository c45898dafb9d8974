"""The append-only decision log: today's decisions are tomorrow's evaluation data.

One JSON line per event, in the order they happened: a ``decision`` line
(id, time, shopper, session, chosen action, its propensity, the full
probability vector over eligible actions, the blocked actions with reasons, the
policy version and the context) and later ``outcome`` lines joined to it by
``decision_id``. Lines are only ever appended, each with one ``write`` call on
a file opened ``O_APPEND``, so a crash loses at most the line being written
and never rewrites history.

Several processes (``shopintent serve --workers N``) append to the same file:
on a local file system the kernel moves to the end and writes under the
file's lock in one step for an ``O_APPEND`` write, so whole lines from
different processes never interleave, and an outcome logged by one worker
sits in the same file as the decision another worker made. One file per
process would need every reader to find and merge the files; this keeps
:func:`read_decisions` and every tool that reads the log unchanged. (Network
file systems such as NFS do not keep that promise: keep the state folder on a
local disk.)
:func:`read_decisions` joins outcomes to decisions and :func:`to_feedback`
turns the result into :class:`LoggedFeedback` for the OPE estimators.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopintent.intervene.actions import Action
from shopintent.intervene.context import FEATURE_NAMES, DecisionContext
from shopintent.intervene.feedback import FeedbackError, LoggedFeedback
from shopintent.schema.records import Decision, Outcome
from shopintent.settings import Settings


def default_log_path(settings: Settings) -> Path:
    """``state_dir/intervene/decisions.jsonl``."""
    return settings.state_dir / "intervene" / "decisions.jsonl"


class DecisionLog:
    """Appends decisions and outcomes to a JSON-lines file (safe across threads and processes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.path}: the decision log is closed")
            # One write per line: the unit the kernel appends atomically (see the module docstring).
            written = os.write(self._fd, line)
        if written != len(line):
            raise OSError(f"{self.path}: wrote {written} of {len(line)} bytes of a log line (disk full?)")

    def append_decision(
        self, decision: Decision, probabilities: dict[str, float], blocked: dict[str, str]
    ) -> None:
        """Write one decision line."""
        self._write({
            "type": "decision",
            "decision_id": decision.decision_id,
            "timestamp": decision.timestamp.isoformat(),
            "user_id": decision.user_id,
            "session_id": decision.session_id,
            "action": decision.action,
            "propensity": decision.propensity,
            "policy_version": decision.policy_version,
            "probabilities": probabilities,
            "blocked": blocked,
            "context": decision.context,
        })

    def append_outcome(self, outcome: Outcome) -> None:
        """Write one outcome line (joined to its decision on read)."""
        self._write({
            "type": "outcome",
            "decision_id": outcome.decision_id,
            "timestamp": outcome.timestamp.isoformat(),
            "kind": outcome.kind,
            "value": outcome.value,
        })

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_decisions(path: Path, outcome_kinds: Sequence[str] | None = None) -> pd.DataFrame:
    """Decisions with their outcomes joined by id; ``reward`` sums the outcome values.

    ``outcome_kinds`` keeps only those kinds in the reward (e.g. ``["purchase"]``).
    A malformed line raises with its line number; an outcome whose decision id
    is unknown raises too (it means the log was truncated or mixed up).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no decision log; run the engine (or `intervene replay`) first")
    decisions, outcomes = [], []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FeedbackError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
            kind = record.get("type")
            if kind == "decision":
                decisions.append(record)
            elif kind == "outcome":
                outcomes.append(record)
            else:
                raise FeedbackError(f"{path} line {number}: `type` {kind!r} is neither decision nor outcome")
    frame = pd.DataFrame(decisions)
    if frame.empty:
        return frame
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    known = set(frame["decision_id"])
    reward: dict[str, float] = {}
    n_outcomes: dict[str, int] = {}
    for record in outcomes:
        if record["decision_id"] not in known:
            raise FeedbackError(f"{path}: outcome for unknown decision_id {record['decision_id']!r}")
        if outcome_kinds is not None and record["kind"] not in outcome_kinds:
            continue
        reward[record["decision_id"]] = reward.get(record["decision_id"], 0.0) + float(record["value"])
        n_outcomes[record["decision_id"]] = n_outcomes.get(record["decision_id"], 0) + 1
    frame["reward"] = frame["decision_id"].map(reward).fillna(0.0)
    frame["n_outcomes"] = frame["decision_id"].map(n_outcomes).fillna(0).astype(int)
    return frame


def to_feedback(decisions: pd.DataFrame, actions: Sequence[Action]) -> LoggedFeedback:
    """The decision log as :class:`LoggedFeedback` (one position; features as context)."""
    names = tuple(a.name for a in actions)
    index = {name: k for k, name in enumerate(names)}
    unknown = ~decisions["action"].isin(index)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise FeedbackError(f"decision row {row + 1}: action {decisions['action'].iloc[row]!r} is not in the catalogue")
    fields = DecisionContext.__dataclass_fields__
    context = np.array([
        DecisionContext.from_dict({k: v for k, v in c.items() if k in fields}).features()
        for c in decisions["context"]
    ]) if len(decisions) else np.zeros((0, len(FEATURE_NAMES)))
    return LoggedFeedback(
        action=decisions["action"].map(index).to_numpy(dtype=np.int64),
        position=np.zeros(len(decisions), dtype=np.int64),
        reward=decisions["reward"].to_numpy(dtype=float),
        pscore=decisions["propensity"].to_numpy(dtype=float),
        action_names=names,
        n_positions=1,
        context=context,
        timestamp=decisions["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]"),
        policy=",".join(sorted(decisions["policy_version"].unique())),
    )
