"""Event-level intent models: purchase, cart abandonment and next action from a session prefix.

One LightGBM booster per label over the :mod:`~shopintent.behaviour.features`
vector, with the prefix length *k* as a feature, so one model scores a
session after any number of events (the early-prediction setting). Validation
inside ``fit`` is by time: the latest ``validation_fraction`` of training rows
(by the time of their last event) choose the number of trees and the F1
threshold; random-row validation would let a session's own later prefixes
leak into its earlier ones.

>>> model = EventIntentModel(task="purchase").fit(sessionised_events)  # doctest: +SKIP
>>> model.evaluate(test_table)["labels"]["y_purchase"]["roc_auc"]    # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from shopintent.behaviour.early import early_curve
from shopintent.behaviour.event_scoring import KIND as _KIND
from shopintent.behaviour.event_scoring import TASKS, read_event_model_record
from shopintent.behaviour.examples import PrefixTable, build_prefix_table
from shopintent.behaviour.features import FEATURE_NAMES
from shopintent.behaviour.path_attribution import PathAttribution
from shopintent.behaviour.metrics import best_f1_threshold, binary_scores
from shopintent.behaviour.persist import begin_save, finish_save, frame_checksum
from shopintent.inference.trees import write_tree_arrays


class EventIntentModel(BaseEstimator):
    """LightGBM prefix model for one task: ``purchase``, ``abandon`` or ``next-action``.

    A scikit-learn estimator without a classifier mixin: ``fit`` takes
    sessionised events (the examples are built inside), not ``X, y``.

    Hyper-parameters: booster settings, and the example definition
    (``max_k`` prefixes per session, abandonment ``horizon_hours``,
    ``next_window`` events for the next action, ``utc_offset_hours`` for the
    local hour, ``gap_minutes`` recorded for the sessionisation used).
    Learned: ``boosters_`` and ``thresholds_`` per label, ``n_train_``.

    The small trees (4 leaves, 200 rows per leaf) were chosen on a validation
    day inside the Taobao training period (train before 2017-12-02, validate
    on 2017-12-02; the test day untouched): shoppers change from day to day,
    and deeper trees fitted the training days at the expense of the next one
    (validation ROC-AUC 0.674 against 0.651 with 15 leaves).

    Examples
    --------
    >>> from shopintent.samples import taobao_sessions
    >>> events = taobao_sessions(5000)
    >>> model = EventIntentModel(task="abandon", n_estimators=50, max_k=5).fit(events)
    >>> table = model.prefix_table(events)
    >>> proba = model.predict_proba(table.X.head(3))
    >>> proba.shape, bool(((proba >= 0) & (proba <= 1)).all())
    ((3, 1), True)
    """

    def __init__(self, task: str = "purchase", n_estimators: int = 1000, learning_rate: float = 0.03,
                 num_leaves: int = 4, min_data_in_leaf: int = 200, max_k: int = 20,
                 horizon_hours: float = 24.0, next_window: int = 3, utc_offset_hours: float = 0.0,
                 gap_minutes: float = 30.0, validation_fraction: float = 0.15,
                 random_state: int = 0) -> None:
        self.task = task
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.max_k = max_k
        self.horizon_hours = horizon_hours
        self.next_window = next_window
        self.utc_offset_hours = utc_offset_hours
        self.gap_minutes = gap_minutes
        self.validation_fraction = validation_fraction
        self.random_state = random_state


    @property
    def labels(self) -> tuple[str, ...]:
        if self.task not in TASKS:
            raise ValueError(f"task {self.task!r} is not one of {', '.join(TASKS)}")
        return TASKS[self.task]

    def prefix_table(self, events: pd.DataFrame, label_end: pd.Timestamp | None = None,
                     sessions: set[str] | None = None) -> PrefixTable:
        """Examples for this model's definition from sessionised events."""
        return build_prefix_table(events, max_k=self.max_k, horizon_hours=self.horizon_hours,
                                  next_window=self.next_window, label_end=label_end,
                                  utc_offset_hours=self.utc_offset_hours, sessions=sessions)

    def fit(self, events: pd.DataFrame, label_end: pd.Timestamp | None = None) -> EventIntentModel:
        """Fit on sessionised canonical events (see :func:`shopintent.store.sessionise_frame`)."""
        return self.fit_table(self.prefix_table(events, label_end))

    def fit_table(self, table: PrefixTable) -> EventIntentModel:
        """Fit on a prebuilt :class:`PrefixTable` (its definition must match the parameters)."""
        self.boosters_: dict[str, lgb.Booster] = {}
        self.thresholds_: dict[str, float] = {}
        self.best_iterations_: dict[str, int] = {}
        self.n_train_: dict[str, int] = {}
        self.validation_: dict[str, dict[str, float]] = {}
        params = {"objective": "binary", "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_data_in_leaf,
                  "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
                  "lambda_l2": 1.0, "seed": self.random_state, "num_threads": 1, "verbose": -1,
                  "deterministic": True, "force_row_wise": True}
        checksums = []
        for label in self.labels:
            rows = table.task_rows(label)
            if rows[label].nunique() < 2:
                raise ValueError(f"label {label}: the training events give {len(rows)} examples of a "
                                 "single class; the log needs both outcomes (e.g. sessions with "
                                 "and without purchases) to train this task")
            # Validation by time: the rows whose prefix ends latest.
            cut = rows["ts"].quantile(1 - self.validation_fraction)
            fit_rows, val_rows = rows[rows["ts"] < cut], rows[rows["ts"] >= cut]
            if val_rows[label].nunique() < 2 or fit_rows[label].nunique() < 2:
                raise ValueError(
                    f"label {label}: the latest {self.validation_fraction:.0%} of training prefixes "
                    f"({len(val_rows)} rows) or the earlier ones hold a single class, so trees and "
                    "threshold cannot be validated by time; give a longer log or a larger "
                    "validation_fraction")
            X_fit, y_fit = fit_rows[list(FEATURE_NAMES)], fit_rows[label].to_numpy()
            X_val, y_val = val_rows[list(FEATURE_NAMES)], val_rows[label].to_numpy()
            train = lgb.Dataset(X_fit, y_fit)
            valid = lgb.Dataset(X_val, y_val, reference=train)
            booster = lgb.train(params, train, num_boost_round=self.n_estimators, valid_sets=[valid],
                                callbacks=[lgb.early_stopping(50, verbose=False)])
            # Refit on every training row with the number of trees validation chose.
            rounds = max(booster.best_iteration, 1)
            p_val = booster.predict(X_val, num_iteration=rounds, num_threads=1)
            self.thresholds_[label] = best_f1_threshold(y_val, p_val)
            self.validation_[label] = binary_scores(y_val, p_val, self.thresholds_[label]).as_dict()
            self.boosters_[label] = lgb.train(params, lgb.Dataset(rows[list(FEATURE_NAMES)],
                                                                  rows[label].to_numpy()),
                                              num_boost_round=rounds)
            self.best_iterations_[label] = rounds
            self.n_train_[label] = len(rows)
            checksums.append(frame_checksum(rows[list(FEATURE_NAMES)], rows[label]))
        self.data_checksum_ = frame_checksum(pd.Series(checksums))
        return self

    # -- predicting -----------------------------------------------------------------------
    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Probabilities, one column per label of the task (shape (n, n_labels))."""
        if isinstance(X, pd.DataFrame):
            X = X[list(FEATURE_NAMES)].to_numpy(dtype=float)
        return np.column_stack([self.boosters_[label].predict(X, num_threads=1)
                                for label in self.labels])

    def explainer(self, label: str | None = None) -> PathAttribution:
        """The (cached) fast path-attribution explainer of one label's booster."""
        label = label or self.labels[0]
        cache = self.__dict__.setdefault("_explainers", {})
        if label not in cache:
            cache[label] = PathAttribution(self.boosters_[label])
        return cache[label]

    def contributions(self, X: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
        """SHAP values (``pred_contrib``, log-odds) of one label's booster, with a ``bias`` column."""
        label = label or self.labels[0]
        values = self.boosters_[label].predict(X[list(FEATURE_NAMES)].to_numpy(dtype=float),
                                               pred_contrib=True, num_threads=1)
        return pd.DataFrame(values, columns=[*FEATURE_NAMES, "bias"], index=X.index)

    def evaluate(self, table: PrefixTable, ks: range = range(1, 11)) -> dict[str, Any]:
        """Held-out metrics per label (thresholds from training validation) and the early curve."""
        out: dict[str, Any] = {"labels": {}, "early_curve": {}}
        for i, label in enumerate(self.labels):
            rows = table.task_rows(label)
            scores = self.predict_proba(rows)[:, i]
            y = rows[label].to_numpy()
            out["labels"][label] = binary_scores(y, scores, self.thresholds_[label]).as_dict()
            out["early_curve"][label] = early_curve(rows, label, scores, ks)
        return out

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path | str, metrics: dict[str, Any] | None = None) -> Path:
        """Write one ``<label>.txt`` booster (LightGBM model text) per label, its NumPy form
        ``<label>.trees.safetensors`` (what the service scores with, without LightGBM:
        :class:`~shopintent.behaviour.event_scoring.EventIntentScorer`), ``model.json``, the manifest."""
        path = begin_save(path)
        for label, booster in self.boosters_.items():
            booster.save_model(str(path / f"{label}.txt"))
            write_tree_arrays(path / f"{label}.txt")
        return finish_save(path, _KIND, self.get_params(deep=False), self.data_checksum_,
                           metrics or {"validation": self.validation_},
                           extra={"features": list(FEATURE_NAMES), "thresholds": self.thresholds_,
                                  "best_iterations": self.best_iterations_, "n_train": self.n_train_})

    @classmethod
    def load(cls, path: Path | str) -> EventIntentModel:
        """Read a model written by :meth:`save` (its manifest verified first)."""
        path = Path(path)
        record = read_event_model_record(path)
        model = cls(**record["parameters"])
        model.thresholds_ = {k: float(v) for k, v in record["thresholds"].items()}
        model.best_iterations_ = record["best_iterations"]
        model.n_train_ = record["n_train"]
        model.data_checksum_ = record["data_checksum"]
        model.validation_ = record["metrics"].get("validation", {})
        model.boosters_ = {label: lgb.Booster(model_file=str(path / f"{label}.txt"))
                           for label in model.labels}
        return model
