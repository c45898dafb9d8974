"""The UCI Online Shoppers protocol: features, stratified 5-fold CV, with and without PageValues.

Why a protocol module: published numbers on this data set differ mostly by
protocol (oversampling before the split, thresholds tuned on the test fold,
PageValues kept in). Here every fold's model sees only its training rows (its
own inner validation picks early stopping, calibration and the threshold), and
the held-out fold is scored once; the table reports mean ± sd over folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from shopintent.behaviour.metrics import BinaryScores, binary_scores
from shopintent.behaviour.session_purchase import SessionPurchaseModel
from shopintent.datasets import uci_online_shoppers as uci
from shopintent.metrics import reliability_bins

METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "f1", "ece")


def uci_features(table: pd.DataFrame, page_values: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """Model inputs and labels from the loader's typed table.

    Adds totals and per-page durations (what the raw GA columns imply but do
    not state); codes become categories. ``page_values=False`` drops
    ``page_values`` (it is computed from later transactions, so it nearly
    leaks the label).
    """
    X = pd.DataFrame(index=table.index)
    for column in (*uci.PAGE_COUNT_COLUMNS, *uci.DURATION_COLUMNS, *uci.FLOAT_COLUMNS):
        X[column] = table[column].astype("float64")
    pages = X[list(uci.PAGE_COUNT_COLUMNS)].sum(axis=1)
    X["total_pages"] = pages
    X["total_duration"] = X[list(uci.DURATION_COLUMNS)].sum(axis=1, min_count=1)
    X["product_duration_per_page"] = X["product_related_duration"] / X["product_related"].where(
        X["product_related"] > 0)
    X["product_share"] = X["product_related"] / pages.where(pages > 0)
    X["month"] = table["month"].cat.codes.astype("float64")
    X["weekend"] = table["weekend"].astype("float64")
    X["visitor_type"] = table["visitor_type"].astype("category")
    for column in uci.CODE_COLUMNS:
        X[column] = pd.Categorical(table[column])
    if not page_values:
        X = X.drop(columns=["page_values"])
    return X, table[uci.LABEL].to_numpy().astype(int)


@dataclass
class CVResult:
    """Held-out fold scores of one model family, plus its out-of-fold predictions."""

    kind: str
    page_values: bool
    folds: list[BinaryScores]
    oof: np.ndarray
    labels: np.ndarray
    importance: pd.DataFrame | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, float]]:
        """``{metric: {"mean": m, "sd": s}}`` over folds (sd with ddof=1)."""
        out = {}
        for metric in METRICS:
            values = np.array([getattr(f, metric) for f in self.folds])
            out[metric] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1))}
        return out

    def reliability(self) -> list[dict[str, float]]:
        """Reliability bins of the pooled out-of-fold predictions."""
        return reliability_bins(self.labels, self.oof)


def cross_validate(X: pd.DataFrame, y: np.ndarray, kind: str, n_splits: int = 5, seed: int = 0,
                   page_values: bool = True, **params: Any) -> CVResult:
    """Stratified k-fold CV of one :class:`SessionPurchaseModel` family; every score is held out."""
    folds, oof = [], np.zeros(len(y))
    contributions = []
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(X, y)):
        model = SessionPurchaseModel(kind=kind, random_state=seed + fold, **params)
        model.fit(X.iloc[train], y[train])
        p = model.predict_proba(X.iloc[test])[:, 1]
        oof[test] = p
        folds.append(binary_scores(y[test], p, model.threshold_))
        if kind == "lightgbm":
            contributions.append(model.contributions(X.iloc[test]).drop(columns="bias").abs())
    importance = None
    if contributions:
        mean_abs = pd.concat(contributions).mean().sort_values(ascending=False)
        importance = mean_abs.rename("mean_abs_shap").reset_index().rename(columns={"index": "feature"})
    return CVResult(kind=kind, page_values=page_values, folds=folds, oof=oof, labels=y,
                    importance=importance, parameters={"n_splits": n_splits, "seed": seed, **params})
