"""Repeat purchases per customer (CDNOW): a LightGBM count model beside the BG/NBD model.

Why both: BG/NBD (Fader, Hardie & Lee, 2005) is the standard buy-till-you-die
model and needs only frequency, recency and age; a learned model can also use
spend, recent activity and the BG/NBD outputs themselves. The comparison is
per customer: features come from the calibration period only (before
``cutoff``); the target is the number of repeat purchase days in the holdout
period. The learned model needs labelled customers to train on, so the
protocol (:func:`cross_validate_customers`) splits *customers* into folds: a
fold's model learns from the other customers' holdout counts and predicts
this fold's. BG/NBD is fitted on the same training customers' calibration
data, so both predict the same held-out customers from the same information.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold

from shopintent.behaviour.persist import begin_save, finish_save, frame_checksum, read_model_json

_KIND = "repeat_purchase"


def _bgnbd_class():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter
    return BetaGeoFitter


def daily_purchases(events: pd.DataFrame) -> pd.DataFrame:
    """Purchases per customer and day (BG/NBD counts purchase *days*), with dollars and units."""
    buys = events[events["event_type"] == "purchase"]
    if buys.empty:
        raise ValueError("the events hold no purchases; repeat-purchase models need purchase events")
    spend = buys["price"].fillna(0.0) * buys["quantity"].astype("float64").fillna(1.0)
    frame = pd.DataFrame({"user_id": buys["user_id"].to_numpy(),
                          "day": buys["timestamp"].dt.floor("D").to_numpy(),
                          "spend": spend.to_numpy(),
                          "units": buys["quantity"].astype("float64").fillna(1.0).to_numpy()})
    return frame.groupby(["user_id", "day"], as_index=False).sum()


def customer_features(days: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per-customer features from the purchase days strictly before ``cutoff`` (index user_id).

    ``frequency`` (repeat days), ``recency`` and ``T`` (days, as lifetimes
    defines them), spend and units, activity in the last 4 and 13 weeks, first
    purchase size, mean gap between purchases.
    """
    calib = days[days["day"] < cutoff]
    grouped = calib.groupby("user_id")
    first, last = grouped["day"].min(), grouped["day"].max()
    n_days = grouped.size()
    out = pd.DataFrame({
        "frequency": (n_days - 1).astype(float),
        "recency": (last - first).dt.days.astype(float),
        "T": (cutoff - first).dt.days.astype(float),
        "spend_total": grouped["spend"].sum(),
        "spend_mean": grouped["spend"].mean(),
        "units_total": grouped["units"].sum(),
        "first_spend": calib.sort_values("day").groupby("user_id")["spend"].first(),
        "days_since_last": (cutoff - last).dt.days.astype(float),
    })
    for weeks in (4, 13):
        recent = calib[calib["day"] >= cutoff - pd.Timedelta(weeks=weeks)]
        out[f"days_last_{weeks}w"] = recent.groupby("user_id").size().reindex(out.index).fillna(0.0)
    out["mean_gap"] = (out["recency"] / out["frequency"]).where(out["frequency"] > 0)
    return out


def holdout_counts(days: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp,
                   end: pd.Timestamp) -> pd.Series:
    """Purchase days per customer in ``[cutoff, end)`` (0 for customers with none)."""
    hold = days[(days["day"] >= cutoff) & (days["day"] < end)]
    return hold.groupby("user_id").size().reindex(customers).fillna(0.0).rename("holdout_purchases")


class BGNBD(BaseEstimator):
    """The BG/NBD model (lifetimes' ``BetaGeoFitter``) as a scikit-learn estimator.

    No regressor mixin: ``predict`` needs the horizon and ``fit`` takes no target.

    >>> from shopintent.samples import cdnow_customers
    >>> features, _ = cdnow_customers()
    >>> bgnbd = BGNBD().fit(features)
    >>> sorted(bgnbd.params_), bgnbd.predict(features.head(2), horizon_days=273.0).shape
    (['a', 'alpha', 'b', 'r'], (2,))
    """

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    def fit(self, features: pd.DataFrame) -> BGNBD:
        """Fit on calibration ``frequency``, ``recency`` and ``T`` (days)."""
        self.model_ = _bgnbd_class()(penalizer_coef=self.penalizer_coef)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_.fit(features["frequency"], features["recency"], features["T"])
        self.params_ = {k: float(v) for k, v in self.model_.params_.items()}
        return self

    def predict(self, features: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """Expected purchase days in the next ``horizon_days`` per customer."""
        return np.asarray(self.model_.conditional_expected_number_of_purchases_up_to_time(
            horizon_days, features["frequency"], features["recency"], features["T"]), dtype=float)

    def p_alive(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.conditional_probability_alive(
            features["frequency"], features["recency"], features["T"]), dtype=float)


class RepeatPurchaseModel(RegressorMixin, BaseEstimator):
    """LightGBM count model of holdout purchase days, with BG/NBD outputs as features.

    ``objective``: ``poisson`` (predicts the expected count, like BG/NBD) or
    ``l1`` (predicts the median, which is what minimises MAE). Learned:
    ``booster_``, ``bgnbd_`` (fitted on the training customers), ``feature_names_``.

    Examples
    --------
    >>> from shopintent.samples import cdnow_customers
    >>> features, purchase_days = cdnow_customers()
    >>> model = RepeatPurchaseModel(n_estimators=50).fit(features, purchase_days)
    >>> model.predict(features.head(3)).shape
    (3,)
    """

    def __init__(self, objective: str = "poisson", horizon_days: float = 273.0,
                 n_estimators: int = 400, learning_rate: float = 0.03, num_leaves: int = 15,
                 random_state: int = 0) -> None:
        self.objective = objective
        self.horizon_days = horizon_days
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.random_state = random_state


    def _with_bgnbd(self, features: pd.DataFrame) -> pd.DataFrame:
        out = features.copy()
        out["bgnbd_expected"] = self.bgnbd_.predict(features, self.horizon_days)
        out["bgnbd_p_alive"] = self.bgnbd_.p_alive(features)
        return out

    def fit(self, features: pd.DataFrame, y: pd.Series | np.ndarray) -> RepeatPurchaseModel:
        """Fit on calibration features of training customers and their holdout counts."""
        if self.objective not in ("poisson", "l1"):
            raise ValueError(f"objective {self.objective!r} must be 'poisson' or 'l1'")
        self.bgnbd_ = BGNBD().fit(features)
        X = self._with_bgnbd(features)
        self.feature_names_ = list(X.columns)
        params = {"objective": self.objective, "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_data_in_leaf": 50, "feature_fraction": 0.9,
                  "bagging_fraction": 0.8, "bagging_freq": 1, "seed": self.random_state,
                  "num_threads": 1, "verbose": -1, "deterministic": True, "force_row_wise": True}
        self.booster_ = lgb.train(params, lgb.Dataset(X, np.asarray(y, dtype=float)),
                                  num_boost_round=self.n_estimators)
        self.data_checksum_ = frame_checksum(features, pd.Series(np.asarray(y, dtype=float)))
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Predicted holdout purchase days per customer."""
        return np.asarray(self.booster_.predict(self._with_bgnbd(features)[self.feature_names_],
                                                num_threads=1))

    def save(self, path: Path | str, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``booster.txt``, ``model.json`` (with the BG/NBD parameters) and the manifest."""
        path = begin_save(path)
        self.booster_.save_model(str(path / "booster.txt"))
        return finish_save(path, _KIND, self.get_params(deep=False), self.data_checksum_, metrics or {},
                           extra={"feature_names": self.feature_names_, "bgnbd": self.bgnbd_.params_})

    @classmethod
    def load(cls, path: Path | str) -> RepeatPurchaseModel:
        path = Path(path)
        record = read_model_json(path, _KIND)
        model = cls(**record["parameters"])
        model.feature_names_ = record["feature_names"]
        model.data_checksum_ = record["data_checksum"]
        model.bgnbd_ = BGNBD()
        model.bgnbd_.model_ = _bgnbd_class()()
        model.bgnbd_.model_.params_ = pd.Series(record["bgnbd"])
        model.bgnbd_.params_ = record["bgnbd"]
        model.booster_ = lgb.Booster(model_file=str(path / "booster.txt"))
        return model


@dataclass
class RepeatResult:
    """Per-fold MAE/RMSE of every predictor on held-out customers."""

    folds: list[dict[str, dict[str, float]]]
    n_customers: int
    holdout_total: float
    predicted_totals: dict[str, float]

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name in self.folds[0]:
            for metric in ("mae", "rmse"):
                values = np.array([fold[name][metric] for fold in self.folds])
                out[f"{name}.{metric}"] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1))}
        return out


def cross_validate_customers(events: pd.DataFrame, cutoff: pd.Timestamp, end: pd.Timestamp,
                             n_splits: int = 5, seed: int = 0) -> RepeatResult:
    """Customer k-fold comparison of BG/NBD, LightGBM (Poisson and L1) and an all-zero baseline."""
    days = daily_purchases(events)
    features = customer_features(days, cutoff)
    y = holdout_counts(days, features.index, cutoff, end).to_numpy()
    horizon = float((end - cutoff).days)
    folds, totals = [], {"bgnbd": 0.0, "lightgbm_poisson": 0.0, "lightgbm_l1": 0.0, "zero": 0.0}
    for fold, (train, test) in enumerate(KFold(n_splits, shuffle=True, random_state=seed).split(features)):
        f_train, f_test = features.iloc[train], features.iloc[test]
        predictions = {"bgnbd": BGNBD().fit(f_train).predict(f_test, horizon)}
        for objective in ("poisson", "l1"):
            model = RepeatPurchaseModel(objective=objective, horizon_days=horizon,
                                        random_state=seed + fold).fit(f_train, y[train])
            predictions[f"lightgbm_{objective}"] = model.predict(f_test)
        predictions["zero"] = np.zeros(len(test))
        scores = {}
        for name, p in predictions.items():
            err = p - y[test]
            scores[name] = {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err ** 2).mean()))}
            totals[name] += float(p.sum())
        folds.append(scores)
    return RepeatResult(folds=folds, n_customers=len(y), holdout_total=float(y.sum()),
                        predicted_totals=totals)
