"""Per-group metrics and between-group gaps of a model that acts on shoppers, with fairlearn.

:func:`audit_classifier` takes a thresholded model's held-out labels,
decisions and scores and, for each group column, reports per group (fairlearn
``MetricFrame``): rows, selection rate, true- and false-positive rate, base
rate, mean score and calibration gap (mean score − observed rate, the
calibration-in-the-large of each group), ROC-AUC; and the gaps (fairlearn
``demographic_parity_difference`` and ``equalized_odds_difference``, between
groups) with bootstrap intervals (:mod:`shopintent.fairness.bootstrap`).
:func:`audit_means` does the same for per-row quantities that are not
decisions (HR@10 of a recommendation, an offer, a spend). Groups under the
minimum size are listed with their size and left out of the gaps
(:mod:`shopintent.fairness.groups`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import roc_auc_score

from shopintent.fairness.bootstrap import (
    N_BOOT,
    QUANTILES,
    Interval,
    gap_intervals,
    group_replicates,
    rate_intervals,
)
from shopintent.fairness.groups import MIN_GROUP_ROWS, check_groups


def _auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    return float(roc_auc_score(y_true, y_score)) if len(np.unique(y_true)) == 2 else float("nan")


@dataclass
class ColumnAudit:
    """One model × one group column: per-group table, gaps with intervals, small groups named."""

    model: str
    column: str
    by_group: pd.DataFrame
    intervals: dict[str, dict[str, Interval]]
    gaps: dict[str, Interval]
    groups: dict[str, Any]
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        rows = []
        for group, row in self.by_group.iterrows():
            entry = {"group": str(group), **{k: (None if pd.isna(v) else float(v)) for k, v in row.items()}}
            for metric, per in self.intervals.items():
                if str(group) in per:
                    entry[f"{metric}_low"], entry[f"{metric}_high"] = per[str(group)].low, per[str(group)].high
            rows.append(entry)
        return {"model": self.model, "column": self.column, "by_group": rows,
                "gaps": {k: v.as_dict() for k, v in self.gaps.items()}, "groups": self.groups,
                "detail": self.detail}


@dataclass
class ModelAudit:
    """Every group column audited for one model."""

    model: str
    columns: list[ColumnAudit] = field(default_factory=list)
    overall: dict[str, float] = field(default_factory=dict)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "overall": self.overall, "detail": self.detail,
                "columns": [c.as_dict() for c in self.columns]}


def _check_lengths(n: int, **arrays: Any) -> None:
    for name, values in arrays.items():
        if values is not None and len(values) != n:
            raise ValueError(f"`{name}` has {len(values)} rows; `y_true` has {n}")


def audit_classifier(model: str, y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                     groups: pd.DataFrame, y_score: Sequence[float] | np.ndarray | None = None,
                     min_rows: int = MIN_GROUP_ROWS, n_boot: int = N_BOOT, seed: int = 0,
                     detail: str = "") -> ModelAudit:
    """Audit a thresholded model on held-out rows for every column of ``groups`` (one label per row)."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    score = None if y_score is None else np.asarray(y_score, dtype=float)
    _check_lengths(len(y_true), y_pred=y_pred, y_score=score, groups=groups)
    overall = {"rows": float(len(y_true)), "selection_rate": float(y_pred.mean()), "base_rate": float(y_true.mean())}
    if score is not None:
        overall["roc_auc"] = _auc(y_true, score)
    out = ModelAudit(model=model, overall=overall, detail=detail)
    for column in groups.columns:
        labels = groups[column].astype(str).to_numpy()
        check = check_groups(pd.Series(labels, name=column), min_rows)
        keep = np.isin(labels, check.kept)
        metrics: dict[str, Any] = {"rows": count, "selection_rate": selection_rate,
                                   "true_positive_rate": true_positive_rate,
                                   "false_positive_rate": false_positive_rate}
        frame = MetricFrame(metrics=metrics, y_true=y_true[keep], y_pred=y_pred[keep],
                            sensitive_features=pd.Series(labels[keep], name=column))
        table = frame.by_group.copy()
        table["base_rate"] = pd.Series(y_true[keep]).groupby(labels[keep]).mean()
        if score is not None:
            scores = MetricFrame(metrics={"mean_score": lambda t, p: float(np.mean(p)), "roc_auc": _auc},
                                 y_true=y_true[keep], y_pred=score[keep],
                                 sensitive_features=pd.Series(labels[keep], name=column))
            table = table.join(scores.by_group)
            table["calibration_gap"] = table["mean_score"] - table["base_rate"]
        if len(check.kept) < 2:  # one group: no gap to measure (said in the group note)
            table.index = table.index.astype(str)
            out.columns.append(ColumnAudit(model=model, column=column, by_group=table, intervals={}, gaps={},
                                           groups=check.as_dict(), detail=detail))
            continue
        point, reps = group_replicates(y_true, y_pred, labels, check.kept, score, n_boot, seed)
        # True- and false-positive rates exist only in groups with both outcomes (fairlearn reads 0 otherwise).
        both = [g for g in check.kept if 0 < point["base_rate"][g] < 1]
        odds = np.isin(labels, both)
        gaps = gap_intervals(point, reps, np.isin(check.kept, both))
        fair = {"demographic_parity_difference": float(demographic_parity_difference(
                    y_true[keep], y_pred[keep], sensitive_features=labels[keep])),
                "equalized_odds_difference": float(equalized_odds_difference(
                    y_true[odds], y_pred[odds], sensitive_features=labels[odds])) if len(both) > 1 else float("nan")}
        for name, value in fair.items():
            gaps[name] = Interval(value, gaps[name].low, gaps[name].high)
        table = table.sort_values("rows", ascending=False)
        table.index = table.index.astype(str)
        out.columns.append(ColumnAudit(model=model, column=column, by_group=table,
                                       intervals=rate_intervals(point, reps, check.kept), gaps=gaps,
                                       groups=check.as_dict() | {"equalized_odds_groups": both},
                                       detail=detail))
    return out


def audit_means(model: str, values: Mapping[str, np.ndarray], groups: pd.DataFrame,
                min_rows: int = MIN_GROUP_ROWS, n_boot: int = N_BOOT, seed: int = 0,
                detail: str = "") -> ModelAudit:
    """Per-group means of per-row quantities (e.g. ``{"hr@10": hits}``) and their ranges, with intervals."""
    n = len(groups)
    _check_lengths(n, **dict(values))
    out = ModelAudit(model=model, overall={k: float(np.mean(v)) for k, v in values.items()} | {"rows": float(n)},
                     detail=detail)
    rng = np.random.default_rng(seed)
    for column in groups.columns:
        labels = groups[column].astype(str).to_numpy()
        check = check_groups(pd.Series(labels, name=column), min_rows)
        keep = np.isin(labels, check.kept)
        table = pd.DataFrame({"rows": pd.Series(labels[keep]).value_counts()})
        for name, v in values.items():
            per = MetricFrame(metrics=lambda t, p: float(np.mean(p)), y_true=np.zeros(int(keep.sum())),
                              y_pred=np.asarray(v, dtype=float)[keep],
                              sensitive_features=pd.Series(labels[keep], name=column))
            table[name] = per.by_group
        intervals: dict[str, dict[str, Interval]] = {}
        gaps: dict[str, Interval] = {}
        for name, v in values.items():
            if len(check.kept) < 2:  # one group: no gap to measure (said in the group note)
                intervals[name] = {}
                continue
            v = np.asarray(v, dtype=float)
            reps = []
            for g in check.kept:
                rows = np.flatnonzero(labels == g)
                reps.append(v[rows[rng.integers(0, len(rows), (n_boot, len(rows)))]].mean(axis=1))
            draws = np.column_stack(reps)
            per_group = {g: float(table.loc[g, name]) for g in check.kept}
            intervals[name] = {}
            for k, g in enumerate(check.kept):
                low, high = np.quantile(draws[:, k], QUANTILES)
                intervals[name][g] = Interval(per_group[g], float(low), float(high))
            values_kept = np.array([per_group[g] for g in check.kept])
            spread = draws[:, int(values_kept.argmax())] - draws[:, int(values_kept.argmin())]
            low, high = np.quantile(spread, QUANTILES)
            gaps[f"{name}_difference"] = Interval(float(values_kept.max() - values_kept.min()),
                                                  float(low), float(high))
        table = table.sort_values("rows", ascending=False)
        table.index = table.index.astype(str)
        out.columns.append(ColumnAudit(model=model, column=column, by_group=table, intervals=intervals,
                                       gaps=gaps, groups=check.as_dict(), detail=detail))
    return out
