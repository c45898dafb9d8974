"""A saved :class:`~shopintent.risk.fraud.FraudModel`, loaded for scoring only (what the service runs).

Why: ``FraudModel`` is a scikit-learn classifier over a LightGBM booster (or a
logistic model), and importing either library costs about a CPU second of every
service start, while scoring a transaction needs the fitted numbers only.
:class:`FraudScorer` reads the same folder (``model.json``; for LightGBM the
booster's NumPy form ``booster.trees.safetensors`` that ``FraudModel.save`` writes
beside ``booster.txt``) and gives the same calibrated probability
(``tests/risk/test_fraud_scoring.py``, on the real DMC 2019 transactions).

A LightGBM model's per-feature reason codes (``contributions_one``: exact TreeSHAP,
``pred_contrib``) come from the same NumPy trees (:mod:`shopintent.inference.tree_shap`,
equal to LightGBM's). Only a folder saved before the trees kept their node counts
still asks LightGBM, read on the first call that needs it (the first transaction that
is not simply allowed), so a start never pays for it.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from shopintent import persist
from shopintent.inference.trees import load_booster
from shopintent.risk.costs import CostMatrix

KINDS: tuple[str, ...] = ("lightgbm", "logistic")
KIND = "fraud_model"
FORMAT_VERSION = 1
RETRAIN = "shopintent risk train"


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities clipped away from 0 and 1 (the calibrator's input)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def numbers(X: np.ndarray) -> np.ndarray:
    """The logistic model's inputs: raw values, NaN as 0."""
    # raw values, not log-scaled: DMC's ratio columns separate linearly as they are (log scaling
    # cost the logistic model ~200 profit per 1,000 in a 5-fold check)
    return np.nan_to_num(np.asarray(X, dtype=float), nan=0.0)


class FraudRowScoring:
    """Calibrated P(fraud) and reason codes of one row of plain numbers: the live path, shared by
    ``FraudModel`` (training, LightGBM's booster) and :class:`FraudScorer` (the service, NumPy trees),
    so both answer with one code. Needs ``kind``, ``cost``, ``feature_names_``, ``calibrator_``,
    ``booster_`` or ``center_``/``scale_``/``coef_``/``intercept_``, and ``_shap_booster``."""

    kind: str
    cost: tuple[float, ...] | None
    feature_names_: list[str]
    calibrator_: tuple[float, float]
    booster_: Any
    center_: np.ndarray
    scale_: np.ndarray
    coef_: np.ndarray
    intercept_: float

    def _shap_booster(self) -> Any:
        """A LightGBM booster for exact TreeSHAP contributions."""
        raise NotImplementedError

    def cost_matrix(self) -> CostMatrix | None:
        """The ``cost`` parameter as a :class:`CostMatrix` (``None`` when not given)."""
        return None if self.cost is None else CostMatrix(*map(float, self.cost))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """The Platt calibrator over the model's probability."""
        a, b = self.calibrator_
        return 1.0 / (1.0 + np.exp(-(a * logit(raw) + b)))

    def proba_one(self, values: np.ndarray) -> float:
        """Calibrated P(fraud) of one row given as numbers in ``feature_names_`` order."""
        row = np.asarray(values, dtype=float).reshape(1, -1)
        if self.kind == "lightgbm":
            raw = self.booster_.predict(row, num_threads=1)
        else:
            z = (numbers(row) - self.center_) / self.scale_
            raw = 1.0 / (1.0 + np.exp(-(z @ self.coef_ + self.intercept_)))
        return float(self.calibrate(np.asarray(raw))[0])

    def contributions_one(self, values: np.ndarray) -> dict[str, float]:
        """Per-feature contributions (raw log-odds) of one row: the live reason codes.

        For LightGBM, exact TreeSHAP by LightGBM itself (:meth:`_shap_booster`).
        """
        row = np.asarray(values, dtype=float).reshape(1, -1)
        if self.kind == "lightgbm":
            contrib = self._shap_booster().predict(row, pred_contrib=True, num_threads=1)[0, :-1]
        else:
            contrib = ((numbers(row) - self.center_) / self.scale_ * self.coef_)[0]
        return dict(zip(self.feature_names_, contrib.tolist(), strict=True))


class FraudScorer(FraudRowScoring):
    """The scoring half of a fitted ``FraudModel``: calibrated P(fraud) and reason codes of one row.

    Attributes as the estimator's after ``load``: ``kind``, ``cost``, ``feature_names_``,
    ``categories_``, ``calibrator_``, ``threshold_``, ``oof_profit_per_1000_``, ``recipe_``,
    and the model's numbers (``booster_`` or ``center_``/``scale_``/``coef_``/``intercept_``).
    """

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        params = record["parameters"]
        self.path = path
        self.kind = str(params.get("kind", "lightgbm"))
        self.cost = None if params.get("cost") is None else tuple(params["cost"])
        self.feature_names_ = list(record["feature_names"])
        self.categories_ = dict(record["categories"])
        self.calibrator_ = tuple(record["calibrator"])
        self.threshold_ = math.inf if record["threshold"] is None else float(record["threshold"])
        self.oof_profit_per_1000_ = float(record["oof_profit_per_1000"] or "nan")
        self.recipe_ = dict(record.get("recipe") or {})
        self._lightgbm: Any = None
        self._lock = threading.Lock()
        if self.kind == "lightgbm":
            self.booster_ = load_booster(path / "booster.txt")
        else:
            w = record["weights"]
            self.center_, self.scale_ = np.asarray(w["center"]), np.asarray(w["scale"])
            self.coef_, self.intercept_ = np.asarray(w["coef"]), float(w["intercept"])

    @classmethod
    def load(cls, path: Path | str) -> FraudScorer:
        """Read a folder written by ``FraudModel.save`` (its manifest verified first)."""
        path = Path(path)
        return cls(path, persist.read_model_json(path, KIND, FORMAT_VERSION, retrain=RETRAIN))

    def _shap_booster(self) -> Any:
        """The NumPy trees when they kept their node counts, else LightGBM's own booster (read on
        first use: a folder saved before the counts were)."""
        if getattr(self.booster_, "has_counts", False):
            return self.booster_
        with self._lock:
            if self._lightgbm is None:
                import lightgbm as lgb

                self._lightgbm = lgb.Booster(model_file=str(self.path / "booster.txt"))
            return self._lightgbm
