"""The forecasters a backtest compares, all from maintained libraries.

statsforecast gives the statistical ones (seasonal naive as the yardstick, ETS, ARIMA,
Theta, and Croston / ADIDA / IMAPA, which model intermittent demand as sizes and
intervals instead of a level); mlforecast + LightGBM gives a global gradient-boosted model
on lags, rolling means and calendar features, trained across all series at once; the
ensemble is the median of ETS, Theta, ARIMA and LightGBM (medians resist one model's bad
week). Settings per frequency are chosen for speed on a laptop: weekly ETS and ARIMA are
non-seasonal because 52-period seasonal fits take minutes per refit, while Theta
deseasonalises weekly series cheaply and keeps the yearly pattern, and so does MSTL (STL
removes the season, a non-seasonal ETS forecasts the rest: the yearly cycle and a moving
level, as R03's higher last year needs). ``LightGBMLog`` is the same LightGBM on log(1 + y)
(mlforecast target transform): multiplicative noise becomes additive and the back-transformed
forecast sits near the median, not the mean, which relative errors such as MAPE favour.
``LightGBMRobust`` is the same LightGBM fitted on a winsorised history (:mod:`.robust`: each
training value clipped to its local median ± 3 robust standard deviations, at every
cut-off from the data up to it), so a few freak weeks do not teach its lags to expect more.
``ValidatedWeighted`` weights every single model's forecast by the inverse of its MAE on
the validation cut-offs: on the pharma weeks the average of many models beat the top 3
when both were chosen on one half of the validation weeks and scored on the other
(:func:`shopintent.forecast.backtest.nested_validation`), and the weights still lean
towards the models that forecast a series well.
``SeasonalProfile`` (:mod:`.seasonal`) is a smoothed multiplicative yearly profile times the
current deseasonalised level: the yearly cycle that the MASE scale (seasonal naive, m = 52)
rewards, without repeating one noisy week of last year as seasonal naive does.
``AutoTBATS`` models the 52-week season with trigonometric terms, which ETS cannot (statsforecast's
ETS fits seasons of at most 24 periods); it has no cheap update between refits, so it is refitted at
every cut-off and, too slow for the longer backtests, runs in the weekly last-52 one only
(:data:`SLOW_MODELS`); on the pharma validation weeks it had the lowest mean MASE of the single models.
``LightGBMSeasonal`` is LightGBM with two more features for the same cycle: the mean of the
last season (52 weeks) and the mean of the three periods around the same period one season
back (the smoothed "same week last year"); on the pharma validation weeks it beat Fourier
(sin / cos of the day of year) features. ``ValidatedBest`` is the single model with the lowest
validation MAE per series: the per-series choice, against which the averaging combinations
are judged in the nested validation.
"""

from __future__ import annotations

from typing import Any

STAT_MODELS: tuple[str, ...] = ("SeasonalNaive", "Naive", "AutoETS", "AutoARIMA", "AutoTheta", "MSTL",
                                "CrostonOptimized", "ADIDA", "IMAPA", "SeasonalProfile", "AutoTBATS")
ML_MODELS: tuple[str, ...] = ("LightGBM", "LightGBMLog", "LightGBMRobust", "LightGBMSeasonal")
ENSEMBLE = "Ensemble"
ENSEMBLE_MEMBERS: tuple[str, ...] = ("AutoETS", "AutoTheta", "AutoARIMA", "LightGBM")
#: Per series, the mean of the models with the lowest MAE on the validation cut-offs (see
#: :func:`shopintent.forecast.backtest.validated_combination`); a backtest comparison only.
VALIDATED = "ValidatedTop3"
VALIDATED_SIZE = 3
#: Per series, every single model weighted by 1 / its MAE on the validation cut-offs (see
#: :func:`shopintent.forecast.backtest.weighted_combination`); a backtest comparison only.
WEIGHTED = "ValidatedWeighted"
#: Per series, the one model with the lowest MAE on the validation cut-offs (``validated_combination``
#: with size 1); a backtest comparison only.
BEST = "ValidatedBest"
#: Combinations of the other models' forecasts: nothing of their own to fit.
COMBINATIONS: tuple[str, ...] = (ENSEMBLE, VALIDATED, WEIGHTED, BEST)
#: The combinations chosen per series on the validation cut-offs (``fit`` cannot offer them).
VALIDATED_COMBINATIONS: tuple[str, ...] = (VALIDATED, WEIGHTED, BEST)
ALL_MODELS: tuple[str, ...] = (*STAT_MODELS, *ML_MODELS, *COMBINATIONS)
#: Models used when a caller asks for a quick run (the contract CLI's default).
FAST_MODELS: tuple[str, ...] = ("SeasonalNaive", "Naive", "AutoETS", "AutoTheta", "CrostonOptimized", "ADIDA",
                                "IMAPA", "LightGBM", ENSEMBLE)
#: Models too slow for long or many-cut-off backtests (the benchmark runs them on the weekly last-52 only).
SLOW_MODELS: tuple[str, ...] = ("AutoARIMA", "AutoTBATS")
#: Intermittent-demand models; ``series`` marks which series are intermittent.
INTERMITTENT_MODELS: tuple[str, ...] = ("CrostonOptimized", "ADIDA", "IMAPA")


class UnknownModel(ValueError):
    """A model name the backtest does not know."""


def check_models(names: tuple[str, ...]) -> tuple[str, ...]:
    """Return ``names`` if every one is known, else raise naming the bad one and the choices."""
    for name in names:
        if name not in ALL_MODELS:
            raise UnknownModel(f"model {name!r} is unknown; choose from {', '.join(ALL_MODELS)}")
    if ENSEMBLE in names and not all(m in names for m in ENSEMBLE_MEMBERS if m != "AutoARIMA"):
        raise UnknownModel(f"{ENSEMBLE} needs its members {', '.join(ENSEMBLE_MEMBERS)} (AutoARIMA optional)")
    if VALIDATED in names and len([m for m in names if m != VALIDATED]) < VALIDATED_SIZE:
        raise UnknownModel(f"{VALIDATED} picks {VALIDATED_SIZE} of the other models: give at least that many")
    if WEIGHTED in names and len([m for m in names if m not in COMBINATIONS]) < 2:
        raise UnknownModel(f"{WEIGHTED} weights the single models: give at least two")
    if BEST in names and len([m for m in names if m not in VALIDATED_COMBINATIONS]) < 2:
        raise UnknownModel(f"{BEST} picks one of the other models: give at least two")
    return names


def stat_model(name: str, freq: str, season_length: int) -> Any:
    """A statsforecast model object for ``name`` at frequency ``freq`` (D, W or H)."""
    from statsforecast import models as sm

    from shopintent.forecast.seasonal import SeasonalProfile

    nonseasonal_weekly = 1 if freq == "W" else season_length
    factories = {
        "SeasonalNaive": lambda: sm.SeasonalNaive(season_length=season_length),
        "Naive": lambda: sm.Naive(),
        "AutoETS": lambda: sm.AutoETS(season_length=nonseasonal_weekly),
        "AutoARIMA": lambda: sm.AutoARIMA(season_length=nonseasonal_weekly),
        "AutoTheta": lambda: sm.AutoTheta(season_length=season_length),
        "MSTL": lambda: sm.MSTL(season_length=season_length, trend_forecaster=sm.AutoETS(model="ZZN")),
        "CrostonOptimized": lambda: sm.CrostonOptimized(),
        "ADIDA": lambda: sm.ADIDA(),
        "IMAPA": lambda: sm.IMAPA(),
        "SeasonalProfile": lambda: SeasonalProfile(season_length=season_length),
        "AutoTBATS": lambda: sm.AutoTBATS(season_length=season_length),
    }
    return factories[name]()


def lightgbm_features(freq: str, seasonal: bool = False) -> dict[str, Any]:
    """Lags, rolling means and calendar features for the LightGBM model at ``freq``.

    ``seasonal`` (``LightGBMSeasonal``) adds the mean of the last season and the mean of the
    three periods centred on the same period one season back (lag ``m - 1``, window 3).
    """
    from mlforecast.lag_transforms import RollingMean

    if freq == "W":
        features = {"lags": [1, 2, 3, 4, 52], "lag_transforms": {1: [RollingMean(4), RollingMean(13)]},
                    "date_features": ["month", "week"]}
        season = 52
    elif freq == "D":
        features = {"lags": [1, 7, 14, 28], "lag_transforms": {1: [RollingMean(7), RollingMean(28)]},
                    "date_features": ["dayofweek", "month"]}
        season = 7
    else:
        features = {"lags": [1, 2, 3, 24], "lag_transforms": {1: [RollingMean(6), RollingMean(24)]},
                    "date_features": ["hour", "dayofweek"]}
        season = 24
    if seasonal:
        transforms = dict(features["lag_transforms"])
        if not any(getattr(t, "window_size", None) == season for t in transforms[1]):
            transforms[1] = [*transforms[1], RollingMean(season)]
        transforms[season - 1] = [RollingMean(3)]
        features["lag_transforms"] = transforms
    return features


def lightgbm_forecaster(freq: str, pandas_freq: str, seed: int = 0, name: str = "LightGBM") -> Any:
    """An mlforecast ``MLForecast`` with one LightGBM regressor (single-threaded, seeded) named ``name``.

    ``LightGBMLog`` fits on log(1 + y) and forecasts exp(ŷ) − 1; ``LightGBMRobust`` fits on the
    winsorised history; ``LightGBMSeasonal`` adds the season features (module docstring).
    """
    import lightgbm as lgb
    import numpy as np
    from mlforecast import MLForecast
    from mlforecast.target_transforms import GlobalSklearnTransformer
    from sklearn.preprocessing import FunctionTransformer

    model = lgb.LGBMRegressor(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=10,
                              subsample=1.0, random_state=seed, n_jobs=1, verbose=-1)
    from shopintent.forecast.robust import WinsorisedTarget

    transforms = {"LightGBMLog": [GlobalSklearnTransformer(FunctionTransformer(np.log1p, np.expm1))],
                  "LightGBMRobust": [WinsorisedTarget()]}.get(name)
    return MLForecast(models={name: model}, freq=pandas_freq, target_transforms=transforms,
                      **lightgbm_features(freq, seasonal=name == "LightGBMSeasonal"))


def min_history(freq: str) -> int:
    """Periods LightGBM's longest lag needs before a first training row."""
    return max(lightgbm_features(freq)["lags"]) + 1
