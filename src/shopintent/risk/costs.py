"""The business cost matrix of a risk decision: profit of each outcome, and the threshold it implies.

Why its own module: AUC says how well a model ranks, but a shop acts on a
threshold, and the right threshold depends on what a caught fraud earns and
what a false alarm costs. DMC 2019's matrix (+5 caught, −25 false alarm, −5
missed, 0 correct pass) makes flagging worth it only above ~83 % precision:
a model that maximises accuracy or F1 would lose money. The threshold is
chosen on training data only (inner folds), never on the rows it is scored on.

>>> cost = CostMatrix.parse("5,-25,-5,0")
>>> round(cost.break_even, 4)
0.7143
>>> cost.profit([1, 0, 1, 0], [1, 1, 0, 0])
-25.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CostMatrix", "best_threshold", "profit_curve"]


@dataclass(frozen=True, slots=True)
class CostMatrix:
    """Profit per decided case: flagged fraud (``tp``), flagged good (``fp``), passed fraud (``fn``),
    passed good (``tn``); higher is better, losses are negative."""

    tp: float
    fp: float
    fn: float
    tn: float

    @classmethod
    def parse(cls, text: str) -> CostMatrix:
        """Read ``"TP,FP,FN,TN"`` (four numbers); raise naming the field that does not parse."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) != 4:
            raise ValueError(f"cost matrix {text!r}: expected four numbers TP,FP,FN,TN, got {len(parts)}")
        values = []
        for name, part in zip(("TP", "FP", "FN", "TN"), parts, strict=True):
            try:
                value = float(part)
            except ValueError:
                raise ValueError(f"cost matrix {text!r}: {name} {part!r} is not a number") from None
            if not np.isfinite(value):
                raise ValueError(f"cost matrix {text!r}: {name} {part!r} is not a finite number")
            values.append(value)
        matrix = cls(*values)
        if matrix.tp - matrix.fn <= 0 and matrix.tn - matrix.fp <= 0:
            raise ValueError(f"cost matrix {text!r}: flagging never pays (TP ≤ FN and FP ≥ TN)")
        return matrix

    @property
    def break_even(self) -> float:
        """The probability of fraud above which flagging earns more than passing, for a calibrated score.

        Flag when ``p·tp + (1−p)·fp > p·fn + (1−p)·tn``, i.e. ``p > (tn − fp) / ((tp − fn) + (tn − fp))``.
        """
        gain, loss = self.tp - self.fn, self.tn - self.fp
        return float(loss / (gain + loss)) if gain + loss > 0 else 1.0

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(tp, fp, fn, tn)``."""
        return (self.tp, self.fp, self.fn, self.tn)

    def profit(self, y_true: Sequence[int] | np.ndarray, flagged: Sequence[int] | np.ndarray) -> float:
        """Total profit of the decisions ``flagged`` (1 = flag) on cases whose truth is ``y_true``."""
        y, f = np.asarray(y_true).astype(bool), np.asarray(flagged).astype(bool)
        return float(self.tp * np.sum(y & f) + self.fp * np.sum(~y & f)
                     + self.fn * np.sum(y & ~f) + self.tn * np.sum(~y & ~f))

    def profit_per_1000(self, y_true: Sequence[int] | np.ndarray, flagged: Sequence[int] | np.ndarray) -> float:
        """Profit per 1,000 decided cases: comparable across folds and data sets of any size."""
        n = len(np.asarray(y_true))
        return 1000.0 * self.profit(y_true, flagged) / n if n else float("nan")


def profit_curve(y_true: np.ndarray, scores: np.ndarray, cost: CostMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Profit of flagging every case with score ≥ t, for every distinct score t (descending).

    Computed in one sort, so choosing a threshold on thousands of rows costs
    no more than sorting them.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # the last row of each tied score
    tp, fp, thresholds = tp[last], fp[last], s_sorted[last]
    pos, neg = y.sum(), (~y).sum()
    profits = cost.tp * tp + cost.fp * fp + cost.fn * (pos - tp) + cost.tn * (neg - fp)
    return thresholds, profits


def best_threshold(y_true: np.ndarray, scores: np.ndarray, cost: CostMatrix) -> float:
    """The score threshold (flag when ``score ≥ threshold``) with the highest profit on these rows.

    Flagging nobody is a candidate too (threshold ``inf``), so a model that
    cannot beat "flag nobody" on the training folds is told to flag nobody.
    Between two adjacent scores the midpoint is returned, so a new case
    scored just below the last flagged training case is not flagged.
    """
    y = np.asarray(y_true).astype(bool)
    thresholds, profits = profit_curve(y, scores, cost)
    nobody = cost.fn * y.sum() + cost.tn * (~y).sum()
    if len(profits) == 0 or profits.max() <= nobody:
        return float("inf")
    best = int(np.argmax(profits))
    if best + 1 < len(thresholds):
        return float((thresholds[best] + thresholds[best + 1]) / 2)
    return float(thresholds[best])
