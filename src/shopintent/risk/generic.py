"""Risk models on a shop's own labelled file: read, choose features, evaluate, train, score.

What ``shopintent risk train|eval|score`` runs. A shop hands a delimited
file (the delimiter is sniffed: comma, pipe, semicolon or tab) with a 0/1
label column, optionally a time column and a cost matrix. Column names are
used exactly as the file spells them (a stray ``..ip`` stays ``..ip``: only
the TalkingData loader, which knows that file, maps it).

Feature choice, recorded in the result so nothing is silent:

- numeric columns are features as they are, ``true``/``false`` columns 1/0; text columns with at most
  :data:`MAX_CATEGORIES` distinct values become categories (LightGBM only);
  other text columns are dropped (``dropped``: "free text or an id");
- a column that is missing exactly on the rows of one class records the
  outcome (TalkingData's ``attributed_time`` is filled only for downloads) and
  is dropped as a leak;
- the time column gives ``<time>.hour`` and ``<time>.weekday`` and decides the split.

Evaluation: with a time column, train on every day before the last and test
on the last day (or the latest 20 % of rows when the file spans one day);
without, stratified 5-fold CV. The action threshold always comes from the
training rows (:class:`~shopintent.risk.fraud.FraudModel`'s inner folds).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from shopintent.risk.click_features import CLICK_FIELDS, click_features
from shopintent.risk.costs import CostMatrix
from shopintent.risk.fraud import FraudModel
from shopintent.risk.rules import Rule, evaluate_rules
from shopintent.risk.scorer import Rejection, transaction_thresholds
from shopintent.risk.verdict import Verdict, risk_verdict

__all__ = ["Prepared", "evaluate_file", "prepare", "read_table", "score_file", "train_file"]

MAX_CATEGORIES = 50
DELIMITERS = ",|;\t"


def read_table(path: Path | str) -> pd.DataFrame:
    """A delimited file as text columns, its delimiter sniffed from the header; clear errors when empty."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(encoding="utf-8", newline="") as handle:
        head = handle.readline()
        if not head.strip():
            raise ValueError(f"{path}: the file is empty (no header row)")
    try:
        delimiter = csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    table = pd.read_csv(path, sep=delimiter, dtype="string", keep_default_na=False, na_values=[""])
    if table.empty:
        raise ValueError(f"{path}: the file has a header but no rows")
    return table


@dataclass
class Prepared:
    """A table turned into model features, and what was done to get there."""

    X: pd.DataFrame
    y: np.ndarray | None
    seconds: np.ndarray | None
    recipe: dict[str, Any]
    dropped: dict[str, str] = field(default_factory=dict)


def _labels(table: pd.DataFrame, label_col: str) -> np.ndarray:
    raw = table[label_col]
    missing = raw.isna()
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0]) + 1
        raise ValueError(f"row {row}: label `{label_col}` is missing ({int(missing.sum())} rows lack it)")
    text = raw.str.strip().str.lower()
    mapping = {"1": 1, "0": 0, "true": 1, "false": 0, "1.0": 1, "0.0": 0, "yes": 1, "no": 0}
    y = text.map(mapping)
    if y.isna().any():
        row = int(np.flatnonzero(y.isna().to_numpy())[0])
        raise ValueError(f"row {row + 1}: label `{label_col}` {raw.iloc[row]!r} is not 0/1 (or true/false)")
    y = y.to_numpy().astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError(f"label `{label_col}` holds only the value {int(y[0])}; a risk model needs both 0 and 1")
    return y


def _seconds(table: pd.DataFrame, time_col: str) -> np.ndarray:
    stamps = pd.to_datetime(table[time_col], utc=True, errors="coerce", format="mixed")
    bad = stamps.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"row {row + 1}: `{time_col}` {table[time_col].iloc[row]!r} is not a date/time")
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


def _check_columns(table: pd.DataFrame, named: dict[str, str | None]) -> None:
    for option, column in named.items():
        if column is not None and column not in table.columns:
            raise ValueError(f"{option} {column!r} is not a column of the file; columns: {list(table.columns)}")


def prepare(table: pd.DataFrame, label_col: str, time_col: str | None = None, kind: str = "lightgbm",
            drop: tuple[str, ...] = ()) -> Prepared:
    """Choose and type the features of a labelled table (see the module docstring)."""
    _check_columns(table, {"--label-col": label_col, "--time-col": time_col})
    for column in drop:
        _check_columns(table, {"--drop": column})
    y = _labels(table, label_col)
    seconds = _seconds(table, time_col) if time_col else None
    dropped: dict[str, str] = {c: "dropped by --drop" for c in drop}
    numeric: list[str] = []
    boolean: list[str] = []
    categorical: dict[str, list[str]] = {}
    for column in table.columns:
        if column in (label_col, time_col) or column in dropped:
            continue
        present = table[column].notna().to_numpy()
        if not present.all() and (np.array_equal(present, y == 1) or np.array_equal(present, y == 0)):
            dropped[column] = f"filled exactly on the rows labelled {int(y[present][0])}: it records the outcome"
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        if (values.notna() == table[column].notna()).all():
            numeric.append(column)
            continue
        if table[column].dropna().str.strip().str.lower().isin(["true", "false"]).all():
            boolean.append(column)
            continue
        distinct = table[column].dropna().unique()
        if kind == "lightgbm" and len(distinct) <= MAX_CATEGORIES:
            categorical[column] = sorted(map(str, distinct))
        else:
            dropped[column] = ("text with more than 50 values (free text or an id)" if kind == "lightgbm"
                               else "text column (the logistic model takes numbers only)")
    recipe = {"label_col": label_col, "time_col": time_col, "numeric": numeric, "boolean": boolean,
              "categorical": categorical}
    X = features(table, recipe)
    if X.shape[1] == 0:
        raise ValueError(f"no usable feature column left (dropped: {dropped})")
    return Prepared(X=X, y=y, seconds=seconds, recipe=recipe, dropped=dropped)


def features(table: pd.DataFrame, recipe: dict[str, Any]) -> pd.DataFrame:
    """The model's feature table of ``table`` by a recipe from :func:`prepare` (train and score alike)."""
    needed = [*recipe["numeric"], *recipe.get("boolean", []), *recipe["categorical"]] + ([recipe["time_col"]] if recipe["time_col"] else [])
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"the file lacks the column(s) the model was trained on: {missing}")
    X = pd.DataFrame(index=table.index)
    for column in recipe["numeric"]:
        X[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    for column in recipe.get("boolean", []):
        X[column] = table[column].str.strip().str.lower().map({"true": 1.0, "false": 0.0}).astype(float)
    for column, categories in recipe["categorical"].items():
        X[column] = pd.Categorical(table[column], categories=categories)
    if recipe["time_col"]:
        stamps = pd.to_datetime(table[recipe["time_col"]], utc=True, errors="coerce", format="mixed")
        X[f"{recipe['time_col']}.hour"] = stamps.dt.hour.astype(float)
        X[f"{recipe['time_col']}.weekday"] = stamps.dt.weekday.astype(float)
    return X


def _model(kind: str, cost: CostMatrix | None, seed: int) -> FraudModel:
    return FraudModel(kind=kind, cost=None if cost is None else cost.as_tuple(), random_state=seed)


def _time_split(seconds: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, str]:
    days = pd.to_datetime(seconds, unit="s", utc=True).strftime("%Y-%m-%d").to_numpy()
    last = days.max()
    test = days == last
    if (days != last).any() and len(np.unique(y[test])) == 2 and len(np.unique(y[~test])) == 2:
        return test, f"train on days before {last}, test on {last}"
    cut = np.quantile(seconds, 0.8)
    test = seconds > cut
    return test, "train on the earliest 80 % of rows by time, test on the latest 20 %"


def click_table(table: pd.DataFrame, label_col: str, time_col: str | None,
                click_cols: tuple[str, ...]) -> Prepared:
    """Streaming click features (:mod:`shopintent.risk.click_features`) of an event file whose
    ip, app, device, os and channel columns are named ``click_cols`` (as the file spells them)."""
    if time_col is None:
        raise ValueError("--click-cols needs --time-col: click features are computed in time order")
    if len(click_cols) != len(CLICK_FIELDS):
        raise ValueError(f"--click-cols names {len(click_cols)} column(s); give five, in the order "
                         f"{','.join(CLICK_FIELDS)}")
    _check_columns(table, {"--label-col": label_col, "--time-col": time_col})
    for column in click_cols:
        _check_columns(table, {"--click-cols": column})
    y = _labels(table, label_col)
    seconds = _seconds(table, time_col)
    ids = pd.DataFrame(index=table.index)
    for field_name, column in zip(CLICK_FIELDS, click_cols, strict=True):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | (values < 0) | (values != values.round())
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"row {row + 1}: `{column}` {table[column].iloc[row]!r} is not a "
                             "non-negative integer id")
        ids[field_name] = values.astype("int64")
    ids["t"] = seconds
    X = click_features(ids, time_col="t")
    recipe = {"label_col": label_col, "time_col": time_col, "click_cols": list(click_cols)}
    unused = {c: "not used with --click-cols (only the click ids and the time are)" for c in table.columns
              if c not in (label_col, time_col, *click_cols)}
    return Prepared(X=X, y=y, seconds=seconds, recipe=recipe, dropped=unused)


def evaluate_file(path: Path | str, label_col: str, time_col: str | None = None, cost: CostMatrix | None = None,
                  kind: str = "lightgbm", seed: int = 0, drop: tuple[str, ...] = (),
                  click_cols: tuple[str, ...] = ()) -> dict[str, Any]:
    """Train and test on a split of the file; ROC-AUC, PR-AUC and (with a cost matrix) profit per 1,000.

    ``click_cols`` (five column names: ip, app, device, os, channel) turns an event file of ad
    clicks into the streaming click features the service computes, instead of the raw columns.
    """
    table = read_table(path)
    prep = (click_table(table, label_col, time_col, click_cols) if click_cols
            else prepare(table, label_col, time_col, kind, drop))
    X, y = prep.X, prep.y
    assert y is not None
    if prep.seconds is not None:
        test, protocol = _time_split(prep.seconds, y)
        folds = [(np.flatnonzero(~test), np.flatnonzero(test))]
    else:
        k = int(min(5, np.bincount(y).min()))
        if k < 2:
            raise ValueError(f"label `{label_col}`: the rarer class has {np.bincount(y).min()} row(s); need ≥ 2")
        protocol = f"stratified {k}-fold cross-validation (seed {seed}), out-of-fold scores"
        folds = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y))
    scores = np.full(len(y), np.nan)
    flagged = np.zeros(len(y), dtype=bool)
    fold_metrics = []
    for train, test_rows in folds:
        model = _model(kind, cost, seed).fit(X.iloc[train], y[train])
        p = model.predict_proba(X.iloc[test_rows])[:, 1]
        scores[test_rows] = p
        flagged[test_rows] = p >= model.threshold_
        fold_metrics.append({"roc_auc": float(roc_auc_score(y[test_rows], p)),
                             "pr_auc": float(average_precision_score(y[test_rows], p)), "n": len(test_rows),
                             "threshold": model.threshold_ if np.isfinite(model.threshold_) else None})
    scored = ~np.isnan(scores)
    result: dict[str, Any] = {
        "file": str(path), "rows": len(table), "label_col": label_col, "time_col": time_col,
        "positives": int(y.sum()), "model": kind, "seed": seed, "protocol": protocol,
        "features": list(X.columns), "dropped": prep.dropped,
        "roc_auc": float(np.mean([f["roc_auc"] for f in fold_metrics])),
        "pr_auc": float(np.mean([f["pr_auc"] for f in fold_metrics])),
        "test_rows": int(scored.sum()), "test_positives": int(y[scored].sum()), "folds": fold_metrics,
    }
    if cost is not None:
        result["cost"] = list(cost.as_tuple())
        result["profit_per_1000"] = cost.profit_per_1000(y[scored], flagged[scored])
        result["profit_per_1000_flag_nobody"] = cost.profit_per_1000(y[scored], np.zeros(scored.sum()))
        result["flagged_share"] = float(flagged[scored].mean())
    return result


def train_file(path: Path | str, label_col: str, out: Path | str, time_col: str | None = None,
               cost: CostMatrix | None = None, kind: str = "lightgbm", seed: int = 0,
               drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fit on every row of the file and save the model (with its feature recipe) to ``out``."""
    table = read_table(path)
    prep = prepare(table, label_col, time_col, kind, drop)
    model = _model(kind, cost, seed).fit(prep.X, prep.y)
    model.save(out, metrics={"oof_profit_per_1000": None if np.isnan(model.oof_profit_per_1000_)
                             else model.oof_profit_per_1000_}, recipe=prep.recipe)
    return {"model_dir": str(out), "rows": len(table), "positives": int(prep.y.sum()), "model": kind,
            "features": list(prep.X.columns), "dropped": prep.dropped,
            "threshold": model.threshold_ if np.isfinite(model.threshold_) else None,
            "oof_profit_per_1000": None if np.isnan(model.oof_profit_per_1000_) else model.oof_profit_per_1000_}


def score_file(model_dir: Path | str, path: Path | str, rules: list[Rule] | None = None
               ) -> tuple[list[tuple[int, Verdict]], list[Rejection]]:
    """A verdict per valid row of the file (1-based row numbers); rows that cannot be scored are
    rejected with the field and the reason, and the rest are scored."""
    model = FraudModel.load(model_dir)
    recipe = model.recipe_
    if not recipe:
        raise ValueError(f"{model_dir}: the model has no feature recipe (train it with `shopintent risk train`)")
    table = read_table(path)
    X = features(table, recipe)
    thresholds = transaction_thresholds(model)
    time_col = recipe["time_col"]
    sources = {c: c for c in [*recipe["numeric"], *recipe.get("boolean", [])]}
    if time_col:
        sources.update({f"{time_col}.hour": time_col, f"{time_col}.weekday": time_col})
    verdicts: list[tuple[int, Verdict]] = []
    rejected: list[Rejection] = []
    for i in range(len(table)):
        problem = _row_problem(table, X, i, sources, recipe["categorical"])
        if problem:
            rejected.append(Rejection(i + 1, problem))
            continue
        row = X.iloc[[i]]
        p = float(model.predict_proba(row)[0, 1])
        values: dict[str, Any] = {c: table[c].iat[i] for c in table.columns}
        values.update({c: float(X[c].iat[i]) for c in sources})
        hits = evaluate_rules(rules or (), values)
        contributions = (model.contributions(row).iloc[0].to_dict()
                         if thresholds.action(p) != "allow" or hits else None)
        verdicts.append((i + 1, risk_verdict(p, thresholds, contributions, hits, values)))
    return verdicts, rejected


def _row_problem(table: pd.DataFrame, X: pd.DataFrame, i: int, sources: dict[str, str],
                 categorical: dict[str, list[str]]) -> str | None:
    for feature, column in sources.items():
        if np.isnan(X[feature].iat[i]):
            raw = table[column].iat[i]
            return f"`{column}` is missing" if pd.isna(raw) else f"`{column}` {raw!r} is not a number"
    for column, categories in categorical.items():
        raw = table[column].iat[i]
        if not pd.isna(raw) and str(raw) not in categories:
            return f"`{column}` {raw!r} was never seen in training"
    return None
