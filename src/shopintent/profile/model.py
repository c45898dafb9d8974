"""What a profile predicts: the shopper's segment, purchase and churn probability, price band.

Why one small model over the profile columns: the profile must be cheap to
refresh (the incremental path calls :meth:`ProfileModel.annotate` after every
update) and must answer for every shopper the store holds, including ones the
session models never scored. The segment is the existing K-means segmentation
(:mod:`shopintent.recommend.segments`), kept as its centroids so a shopper is
assigned the same way in batch and incrementally. Purchase and churn are two
logistic regressions trained on the profile as of ``horizon_days`` before the
end of the log, labelled by what happened in that last horizon: purchase =
bought at least once, churn = no event at all.

Their held-out AUC is out of time, not out of a random draw of shoppers: a
twin of each regression is fitted one horizon earlier (profile as of
``cutoff - horizon``, labelled by ``(cutoff - horizon, cutoff]``) and scored
on the profile as of ``cutoff`` against the last horizon's labels, which no
fit saw. Why: a random draw of shoppers is a draw over their keyed pseudonyms,
so the held-out set (about 4 churners of 245) changed with every key and the
churn AUC with it (0.829, then 0.583); a time split holds the same shoppers
and labels whatever the key, and scores every shopper, not 30 % of them. The
AUCs and rates are kept in ``metrics_``; the held-out labels and scores, for
an interval, in ``heldout_`` (not saved).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from shopintent import persist
from shopintent.log import get_logger
from shopintent.profile.incremental import IncrementalProfiles
from shopintent.recommend.segments import LOGGED_COLUMNS as SEGMENT_LOGGED
from shopintent.recommend.segments import FEATURES as SEGMENT_FEATURES
from shopintent.recommend.segments import segment_users

log = get_logger(__name__)

KIND = "shopper_profile"
FORMAT_VERSION = 1
RETRAIN = "shopintent profile build"
#: Inputs of the purchase and churn models (counts log-scaled).
MODEL_INPUTS: tuple[str, ...] = (
    "log_events", "log_sessions", "log_items", "log_categories", "log_n_add_to_cart",
    "log_n_favourite", "log_n_purchase", "active_days", "share_view", "share_add_to_cart",
    "share_favourite", "share_purchase", "recency_days",
)
PRICE_BANDS: tuple[str, ...] = ("low", "mid", "high")


def _segment_matrix(features: pd.DataFrame) -> pd.DataFrame:
    x = features.loc[:, list(SEGMENT_FEATURES)].astype(float).copy()
    for column in SEGMENT_LOGGED:
        x[column] = np.log1p(x[column])
    return x


def model_inputs(features: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The purchase / churn model's inputs from profile columns, recency measured at ``as_of``."""
    # One frame from a dict of columns (not column-by-column inserts): the live endpoint calls this per answer.
    columns: dict[str, Any] = {}
    for column in ("events", "sessions", "items", "categories", "n_add_to_cart", "n_favourite", "n_purchase"):
        columns[f"log_{column}"] = np.log1p(features[column].to_numpy(dtype=float))
    columns["active_days"] = features["active_days"].to_numpy(dtype=float)
    for column in ("share_view", "share_add_to_cart", "share_favourite", "share_purchase"):
        columns[column] = features[column].to_numpy(dtype=float)
    columns["recency_days"] = ((as_of - features["last_seen"]).dt.total_seconds() / 86400.0).to_numpy()
    return pd.DataFrame({c: columns[c] for c in MODEL_INPUTS}, index=features.index)


class ProfileModel:
    """Segment centroids, price-band cut points and the purchase / churn regressions.

    Learned by :meth:`fit`: ``centroids_`` (k × segment features, standardised),
    ``center_``/``scale_`` (the standardisation), ``price_cuts_`` (tertiles of
    mean price, empty when the log has no prices), ``coef_``/``intercept_``
    per target, ``input_center_``/``input_scale_``, ``metrics_``.
    """

    def __init__(self, k: int = 5, horizon_days: float = 1.0, seed: int = 0) -> None:
        self.k = k
        self.horizon_days = horizon_days
        self.seed = seed

    def fit(self, events: pd.DataFrame, features: pd.DataFrame | None = None) -> ProfileModel:
        """Fit on canonical ``events`` (``features``: their profile table, computed when not given)."""
        if features is None:
            profiles = IncrementalProfiles()
            profiles.update(events)
            features = profiles.features()
        self._fit_segments(features)
        mean_price = features["mean_price"].dropna()
        self.price_cuts_ = [float(v) for v in mean_price.quantile([1 / 3, 2 / 3])] if len(mean_price) >= 3 else []
        self._fit_targets(events)
        return self

    def _fit_segments(self, features: pd.DataFrame) -> None:
        segments = segment_users(features.loc[:, list(SEGMENT_FEATURES)].astype(float), k=self.k, seed=self.seed)
        x = _segment_matrix(features)
        self.center_ = x.mean().to_numpy()
        self.scale_ = x.std(ddof=0).replace(0.0, 1.0).to_numpy()
        z = (x.to_numpy() - self.center_) / self.scale_
        labels = segments.labels.reindex(features.index).to_numpy()
        self.centroids_ = np.vstack([z[labels == s].mean(axis=0) for s in range(self.k)])
        self.segment_sizes_ = [int((labels == s).sum()) for s in range(self.k)]

    def _window(self, events: pd.DataFrame, ts: pd.Series, as_of: pd.Timestamp
                ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        """Model inputs of the profile as of ``as_of`` and its labels over the next horizon."""
        before = IncrementalProfiles()
        before.update(events[ts <= as_of])
        past = before.features()
        later = events[(ts > as_of) & (ts <= as_of + pd.Timedelta(days=self.horizon_days))]
        labels = {
            "purchase": past.index.isin(later.loc[later["event_type"] == "purchase", "user_id"].astype(str)),
            "churn": ~past.index.isin(later["user_id"].astype(str)),
        }
        return model_inputs(past, as_of), {t: y.astype(int) for t, y in labels.items()}

    def _check_labels(self, labels: dict[str, np.ndarray], as_of: pd.Timestamp) -> None:
        for target, y in labels.items():
            if len(y) == 0 or y.min() == y.max():
                raise ValueError(f"no variation in the {target} label over the {self.horizon_days} day(s) after "
                                 f"{as_of.isoformat()}; the log is too short or too small to learn it")

    def _fit_targets(self, events: pd.DataFrame) -> None:
        ts = pd.to_datetime(events["timestamp"], utc=True)
        cutoff = ts.max() - pd.Timedelta(days=self.horizon_days)
        earlier = cutoff - pd.Timedelta(days=self.horizon_days)
        x, labels = self._window(events, ts, cutoff)
        x_prior, labels_prior = self._window(events, ts, earlier)
        self._check_labels(labels, cutoff)
        self.input_center_ = x.mean().to_numpy()
        self.input_scale_ = x.std(ddof=0).replace(0.0, 1.0).to_numpy()
        z = (x.to_numpy() - self.input_center_) / self.input_scale_
        # The held-out twin knows only what was there one horizon earlier, its standardisation included.
        prior_center = x_prior.mean().to_numpy()
        prior_scale = x_prior.std(ddof=0).replace(0.0, 1.0).to_numpy()
        z_prior = (x_prior.to_numpy() - prior_center) / prior_scale
        z_held = (x.to_numpy() - prior_center) / prior_scale
        self.coef_, self.intercept_ = {}, {}
        self.metrics_ = {"cutoff": cutoff.isoformat(), "users": len(x), "heldout_fit_as_of": earlier.isoformat(),
                         "heldout_fit_users": len(x_prior)}
        self.heldout_: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for target, y in labels.items():
            prior_y = labels_prior[target]
            if len(prior_y) and prior_y.min() != prior_y.max():
                held = LogisticRegression(max_iter=2000).fit(z_prior, prior_y)
                score = held.predict_proba(z_held)[:, 1]
                self.heldout_[target] = (y, score)
                self.metrics_[f"{target}_auc_heldout"] = float(roc_auc_score(y, score))
            else:
                # Too short a log for the earlier twin: the model is still fitted on the last horizon,
                # but its held-out AUC is unmeasured (None), never guessed.
                self.metrics_[f"{target}_auc_heldout"] = None
                log.warning("profile held-out AUC unmeasured", target=target, as_of=earlier.isoformat(),
                            users=len(prior_y), reason="no variation in the label one horizon earlier")
            self.metrics_[f"{target}_rate"] = float(y.mean())
            self.metrics_[f"{target}_positives"] = int(y.sum())
            full = LogisticRegression(max_iter=2000).fit(z, y)
            self.coef_[target] = [float(v) for v in full.coef_[0]]
            self.intercept_[target] = float(full.intercept_[0])

    def segment(self, features: pd.DataFrame) -> np.ndarray:
        """Nearest segment centroid of each shopper (standardised, log-scaled features)."""
        z = (_segment_matrix(features).to_numpy() - self.center_) / self.scale_
        distance = ((z[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        return distance.argmin(axis=1)

    def probability(self, features: pd.DataFrame, target: str, as_of: pd.Timestamp,
                    inputs: pd.DataFrame | None = None) -> np.ndarray:
        """P(``target``) within the horizon after ``as_of`` (``purchase`` or ``churn``); ``inputs``:
        :func:`model_inputs` of ``features`` at ``as_of`` when the caller already has them."""
        if target not in self.coef_:
            raise KeyError(f"unknown profile target {target!r}; known: {', '.join(self.coef_)}")
        x = model_inputs(features, as_of) if inputs is None else inputs
        z = (x.to_numpy() - self.input_center_) / self.input_scale_
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef_[target]) + self.intercept_[target])))

    def price_band(self, features: pd.DataFrame) -> list[str]:
        """``low``/``mid``/``high`` by mean price (tertiles at fit), ``unknown`` without prices."""
        if not self.price_cuts_:
            return ["unknown"] * len(features)
        bands = np.searchsorted(np.asarray(self.price_cuts_), features["mean_price"].to_numpy(), side="right")
        return ["unknown" if np.isnan(p) else PRICE_BANDS[b]
                for p, b in zip(features["mean_price"].to_numpy(), bands, strict=True)]

    def annotate(self, features: pd.DataFrame, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
        """The full profile: raw columns + segment, price band, recency, frequency and predictions."""
        as_of = features["last_seen"].max() if as_of is None else as_of
        out = features.copy()
        out["segment"] = self.segment(features).astype("int64")
        out["price_band"] = self.price_band(features)
        out["recency_days"] = (as_of - features["last_seen"]).dt.total_seconds() / 86400.0
        span = ((features["last_seen"] - features["first_seen"]).dt.total_seconds() / 86400.0).clip(lower=1.0)
        out["sessions_per_day"] = features["sessions"] / span
        inputs = model_inputs(features, as_of)
        out["purchase_probability"] = self.probability(features, "purchase", as_of, inputs)
        out["churn_probability"] = self.probability(features, "churn", as_of, inputs)
        return out

    def save(self, path: Path | str) -> Path:
        """``model.json`` (all numbers: a few dozen) and the manifest."""
        path = persist.begin_save(path)
        persist.write_model_json(
            path, KIND, FORMAT_VERSION, {"k": self.k, "horizon_days": self.horizon_days, "seed": self.seed},
            centroids=self.centroids_.tolist(), center=self.center_.tolist(), scale=self.scale_.tolist(),
            segment_sizes=self.segment_sizes_, price_cuts=self.price_cuts_, coef=self.coef_,
            intercept=self.intercept_, input_center=self.input_center_.tolist(),
            input_scale=self.input_scale_.tolist(), metrics=self.metrics_)
        persist.write_manifest(path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> ProfileModel:
        """Read a saved model (manifest verified first)."""
        record: dict[str, Any] = persist.read_model_json(path, KIND, FORMAT_VERSION, retrain=RETRAIN)
        model = cls(**record["parameters"])
        model.centroids_ = np.asarray(record["centroids"])
        model.center_, model.scale_ = np.asarray(record["center"]), np.asarray(record["scale"])
        model.segment_sizes_ = record["segment_sizes"]
        model.price_cuts_ = record["price_cuts"]
        model.coef_, model.intercept_ = record["coef"], record["intercept"]
        model.input_center_ = np.asarray(record["input_center"])
        model.input_scale_ = np.asarray(record["input_scale"])
        model.metrics_ = record["metrics"]
        return model
