"""Session-level purchase intent on aggregated sessions (UCI Online Shoppers).

One estimator, three model families (LightGBM, logistic regression, an MLP),
so they are compared under exactly one protocol. ``fit`` splits its own
training data into an inner-train and an inner-validation part (stratified):
the model learns on inner-train with class weights computed *there* (the
imbalance is handled inside the fold, never by resampling before a split),
then a sigmoid calibrator and the F1 threshold are fitted on inner-validation.
Nothing the model is later scored on is touched while fitting.

>>> model = SessionPurchaseModel(kind="logistic").fit(X_train, y_train)  # doctest: +SKIP
>>> model.predict_proba(X_test)[:, 1]                                    # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from shopintent.behaviour.metrics import best_f1_threshold
from shopintent.behaviour.persist import begin_save, finish_save, frame_checksum, read_model_json
from shopintent.behaviour.tabular_network import TabularNetwork, signed_log1p

KINDS: tuple[str, ...] = ("lightgbm", "logistic", "mlp")
_KIND = "session_purchase"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


class SessionPurchaseModel(ClassifierMixin, BaseEstimator):
    """Probability that an aggregated session ends in a purchase.

    Parameters: ``kind`` (``lightgbm``, ``logistic`` or ``mlp``);
    ``imbalance`` (``"weight"``: balanced class weights from the inner-train
    part, or ``"none"``); ``calibrate`` (sigmoid calibration on
    inner-validation, which undoes the probability distortion the weights
    cause); ``validation_fraction`` of the training rows held out for
    early stopping, calibration and the threshold; ``random_state``.

    Learned: ``model_`` (LightGBM booster, or the fitted scikit-learn pipeline
    exported to a :class:`~shopintent.behaviour.tabular_network.TabularNetwork`), ``calibrator_`` (a, b of
    ``sigmoid(a·logit(p) + b)``), ``threshold_`` (F1-optimal on
    inner-validation), ``feature_names_``, ``categorical_``.

    Examples
    --------
    >>> from shopintent.samples import uci_sessions
    >>> X, y = uci_sessions()
    >>> model = SessionPurchaseModel(kind="logistic").fit(X.iloc[:1500], y[:1500])
    >>> model.predict_proba(X.iloc[1500:1503]).shape
    (3, 2)
    >>> model.score(X.iloc[1500:], y[1500:]) > 0.7
    True
    """

    def __init__(self, kind: str = "lightgbm", imbalance: str = "weight", calibrate: bool = True,
                 validation_fraction: float = 0.2, n_estimators: int = 2000,
                 learning_rate: float = 0.02, num_leaves: int = 15, random_state: int = 0) -> None:
        self.kind = kind
        self.imbalance = imbalance
        self.calibrate = calibrate
        self.validation_fraction = validation_fraction
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.random_state = random_state


    # -- fitting --------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> SessionPurchaseModel:
        """Fit on ``X`` (numeric and ``category`` columns) and boolean/0-1 labels ``y``."""
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.imbalance not in ("weight", "none"):
            raise ValueError(f"imbalance {self.imbalance!r} must be 'weight' or 'none'")
        y = np.asarray(y).astype(int)
        if len(np.unique(y)) < 2:
            raise ValueError("the training labels hold a single class; a purchase model needs both")
        self.feature_names_ = list(X.columns)
        self.categorical_ = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        self.categories_ = {c: list(X[c].cat.categories) for c in self.categorical_}
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=self.validation_fraction, stratify=y, random_state=self.random_state)
        weight = (compute_sample_weight("balanced", y_fit) if self.imbalance == "weight"
                  else np.ones(len(y_fit)))
        if self.kind == "lightgbm":
            self.model_ = self._fit_lightgbm(X_fit, y_fit, weight, X_val, y_val)
        else:
            # exported to plain arrays at once: predictions and saved files never need a pickle
            pipeline = self._pipeline().fit(X_fit, y_fit, model__sample_weight=weight)
            self.model_ = TabularNetwork.from_pipeline(pipeline)
        raw = self._raw_proba(X_val)
        self.calibrator_ = self._fit_sigmoid(raw, y_val) if self.calibrate else (1.0, 0.0)
        self.threshold_ = best_f1_threshold(y_val, self._apply_calibration(raw))
        self.data_checksum_ = frame_checksum(X, pd.Series(y))
        return self

    def _fit_lightgbm(self, X_fit: pd.DataFrame, y_fit: np.ndarray, weight: np.ndarray,
                      X_val: pd.DataFrame, y_val: np.ndarray) -> lgb.Booster:
        params = {
            "objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": 30, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
            "lambda_l2": 1.0, "cat_smooth": 20, "seed": self.random_state, "num_threads": 1,
            "verbose": -1, "deterministic": True, "force_row_wise": True,
        }
        val_weight = (compute_sample_weight("balanced", y_val) if self.imbalance == "weight"
                      else np.ones(len(y_val)))
        train = lgb.Dataset(X_fit, y_fit, weight=weight, categorical_feature=self.categorical_ or "auto")
        valid = lgb.Dataset(X_val, y_val, weight=val_weight, reference=train)
        return lgb.train(params, train, num_boost_round=self.n_estimators, valid_sets=[valid],
                         callbacks=[lgb.early_stopping(100, verbose=False)])

    def _pipeline(self) -> Pipeline:
        categorical = self.categorical_
        numeric = [c for c in self.feature_names_ if c not in categorical]
        prep = ColumnTransformer([
            ("num", Pipeline([("log", FunctionTransformer(signed_log1p)),
                              ("scale", StandardScaler())]), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=10), categorical),
        ])
        if self.kind == "logistic":
            model = LogisticRegression(C=1.0, max_iter=2000)
        else:
            model = MLPClassifier(hidden_layer_sizes=(64, 32), alpha=1e-3, learning_rate_init=1e-3,
                                  max_iter=200, early_stopping=True, n_iter_no_change=10,
                                  random_state=self.random_state)
        return Pipeline([("prep", prep), ("model", model)])

    @staticmethod
    def _fit_sigmoid(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw).reshape(-1, 1), y)
        return float(lr.coef_[0, 0]), float(lr.intercept_[0])

    # -- predicting -----------------------------------------------------------------------
    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise ValueError(f"input lacks the column(s) the model was fitted on: {missing}")
        X = X[self.feature_names_].copy()
        for column, categories in self.categories_.items():
            X[column] = pd.Categorical(X[column], categories=categories)
        return X

    def _raw_proba(self, X: pd.DataFrame) -> np.ndarray:
        X = self._frame(X)
        if self.kind == "lightgbm":
            return np.asarray(self.model_.predict(X, num_threads=1))
        return self.model_.predict_positive(X)

    def _apply_calibration(self, raw: np.ndarray) -> np.ndarray:
        a, b = self.calibrator_
        return 1.0 / (1.0 + np.exp(-(a * _logit(raw) + b)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): [no purchase, purchase]."""
        p = self._apply_calibration(self._raw_proba(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the calibrated probability reaches ``threshold_``."""
        return (self.predict_proba(X)[:, 1] >= self.threshold_).astype(int)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-row SHAP values (LightGBM ``pred_contrib``, log-odds) with a ``bias`` column."""
        if self.kind != "lightgbm":
            raise ValueError(f"contributions need kind='lightgbm', this model is {self.kind!r}")
        values = self.model_.predict(self._frame(X), pred_contrib=True, num_threads=1)
        return pd.DataFrame(values, columns=[*self.feature_names_, "bias"], index=X.index)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path | str, metrics: dict[str, Any] | None = None) -> Path:
        """Write the fitted model (``booster.txt``, or ``network.safetensors`` + ``network.json``),
        ``model.json`` and the manifest."""
        path = begin_save(path)
        if self.kind == "lightgbm":
            self.model_.save_model(str(path / "booster.txt"))
        else:
            self.model_.save(path)
        return finish_save(path, _KIND, self.get_params(deep=False), self.data_checksum_, metrics or {}, extra={
            "feature_names": self.feature_names_, "categories": self.categories_,
            "calibrator": list(self.calibrator_), "threshold": self.threshold_})

    @classmethod
    def load(cls, path: Path | str) -> SessionPurchaseModel:
        """Read a model written by :meth:`save` (its manifest verified first)."""
        path = Path(path)
        record = read_model_json(path, _KIND)
        model = cls(**record["parameters"])
        model.feature_names_ = record["feature_names"]
        model.categories_ = record["categories"]
        model.categorical_ = list(model.categories_)
        model.calibrator_ = tuple(record["calibrator"])
        model.threshold_ = float(record["threshold"])
        model.data_checksum_ = record["data_checksum"]
        if model.kind == "lightgbm":
            model.model_ = lgb.Booster(model_file=str(path / "booster.txt"))
        else:
            model.model_ = TabularNetwork.load(path)
        return model

