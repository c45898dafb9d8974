"""The fit / predict estimator behind ``shopintent forecast fit|predict`` and ``GET /v1/forecast``.

``fit`` backtests the candidate models on the given series, keeps the one with the lowest
mean MASE, and stores, per horizon step, the conformal error quantiles of its scored
backtest (the interval half-widths). ``predict`` refits that model on the stored history
and adds the half-widths. What is saved is JSON plus the history as numbers
(:mod:`shopintent.persist`), never a pickled model: statsforecast and mlforecast models
refit in seconds, so saving the selection and calibration is enough and loads safely.

>>> from shopintent.forecast import pharma
>>> weekly = pharma.weekly()
>>> f = Forecaster(freq="W", horizon=2, models=("SeasonalNaive", "Naive"), windows=8, calibration=8).fit(
...     weekly[weekly["unique_id"] == "N02BE"])
>>> f.model_ in ("SeasonalNaive", "Naive"), len(f.predict())
(True, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from shopintent import persist
from shopintent.forecast.backtest import LEVELS, BacktestPlan, backtest
from shopintent.forecast.intervals import conformal_quantile
from shopintent.forecast.models import (
    ENSEMBLE,
    ENSEMBLE_MEMBERS,
    FAST_MODELS,
    ML_MODELS,
    VALIDATED_COMBINATIONS,
    lightgbm_forecaster,
    stat_model,
)
from shopintent.forecast.series import FREQUENCIES, SEASON_LENGTH

KIND = "forecaster"
FORMAT_VERSION = 1
RETRAIN = "shopintent forecast fit"


@dataclass
class Forecaster:
    """Pick the best backtested model per data set and forecast with conformal intervals."""

    freq: str = "D"
    horizon: int = 7
    models: tuple[str, ...] = FAST_MODELS
    windows: int = 8
    calibration: int = 26
    seed: int = 0

    def __post_init__(self) -> None:
        picked = [m for m in self.models if m in VALIDATED_COMBINATIONS]
        if picked:
            raise ValueError(f"{picked[0]} picks models per series for a backtest; fit chooses one model for "
                             "every series, so leave it out of --models")

    def plan(self) -> BacktestPlan:
        """The backtest ``fit`` runs (one cut-off per period, refits every 13)."""
        return BacktestPlan(horizon=self.horizon, windows=self.windows, calibration=self.calibration)

    def fit(self, series: pd.DataFrame) -> Self:
        """Backtest ``series`` (``unique_id, ds, y``), choose ``model_`` and the interval half-widths."""
        result = backtest(series, self.freq, self.plan(), self.models, self.seed)
        self.model_ = result.best
        rows = result.rows
        self.half_width_ = {}
        for level in LEVELS:
            per_step = []
            for step in range(1, self.horizon + 1):
                errors = (rows.loc[rows["step"] == step, "y"] - rows.loc[rows["step"] == step, self.model_]).abs()
                per_step.append(conformal_quantile(errors.to_numpy(), level))
            self.half_width_[level] = per_step
        self.backtest_ = {m: {k: float(v) for k, v in row.items() if k in ("mase", "wape", "mape")}
                          for m, row in result.summary.iterrows()}
        self.history_ = series[["unique_id", "ds", "y"]].reset_index(drop=True)
        return self

    def _point(self, name: str) -> pd.DataFrame:
        from statsforecast import StatsForecast

        if name in ML_MODELS:
            mlf = lightgbm_forecaster(self.freq, FREQUENCIES[self.freq], self.seed, name).fit(self.history_)
            return mlf.predict(self.horizon)
        sf = StatsForecast(models=[stat_model(name, self.freq, SEASON_LENGTH[self.freq])],
                           freq=FREQUENCIES[self.freq], n_jobs=1)
        return sf.forecast(df=self.history_, h=self.horizon)

    def predict(self) -> pd.DataFrame:
        """``unique_id, ds, step, forecast`` and ``lo-80 … hi-95`` for the next ``horizon`` periods."""
        if self.model_ == ENSEMBLE:
            members = [m for m in ENSEMBLE_MEMBERS if m in self.models]
            parts = [self._point(m).set_index(["unique_id", "ds"])[m] for m in members]
            out = pd.concat(parts, axis=1).median(axis=1).rename("forecast").reset_index()
        else:
            out = self._point(self.model_).rename(columns={self.model_: "forecast"})[["unique_id", "ds", "forecast"]]
        out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        out["forecast"] = out["forecast"].clip(lower=0.0)
        out["step"] = out.groupby("unique_id").cumcount() + 1
        for level in LEVELS:
            width = np.asarray(self.half_width_[level])[out["step"].to_numpy() - 1]
            out[f"lo-{level}"] = (out["forecast"] - width).clip(lower=0.0)
            out[f"hi-{level}"] = out["forecast"] + width
        return out

    def save(self, directory: Path | str) -> Path:
        """Write ``model.json`` (choice, half-widths, backtest) and the history as arrays."""
        out = persist.begin_save(directory)
        ids = sorted(self.history_["unique_id"].unique())
        code = self.history_["unique_id"].map({u: i for i, u in enumerate(ids)}).to_numpy(dtype=np.int64)
        persist.save_arrays(out / "history.safetensors", {
            "series": code, "ds_ns": self.history_["ds"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
            "y": self.history_["y"].to_numpy(dtype=np.float64)})
        persist.write_model_json(
            out, KIND, FORMAT_VERSION,
            {"freq": self.freq, "horizon": self.horizon, "models": list(self.models), "windows": self.windows,
             "calibration": self.calibration, "seed": self.seed},
            model=self.model_, half_width={str(k): v for k, v in self.half_width_.items()}, series_ids=ids,
            backtest=self.backtest_)
        persist.write_manifest(out)
        return out

    @classmethod
    def load(cls, directory: Path | str) -> Forecaster:
        """Read a directory written by :meth:`save` (manifest verified first)."""
        meta: dict[str, Any] = persist.read_model_json(directory, KIND, FORMAT_VERSION, RETRAIN)
        p = meta["parameters"]
        self = cls(freq=p["freq"], horizon=p["horizon"], models=tuple(p["models"]), windows=p["windows"],
                   calibration=p["calibration"], seed=p["seed"])
        arrays = persist.load_arrays(Path(directory) / "history.safetensors")
        ids = np.asarray(meta["series_ids"], dtype=object)
        self.history_ = pd.DataFrame({"unique_id": ids[arrays["series"]],
                                      "ds": pd.to_datetime(arrays["ds_ns"]), "y": arrays["y"]})
        self.model_ = meta["model"]
        self.half_width_ = {int(k): v for k, v in meta["half_width"].items()}
        self.backtest_ = meta["backtest"]
        return self
