"""The generated tables of ``docs/forecast.md`` (registered into :data:`shopintent.evaluation.docs_render.TABLES`).

Kept beside the forecast benchmark's measurement names rather than in ``docs_render``, so
the forecast benchmark and its page change together. Imported lazily inside
:func:`forecast_tables` because ``docs_render`` imports this module at its end.
"""

from __future__ import annotations

from typing import Any

from shopintent.forecast.models import (
    ALL_MODELS,
    BEST,
    INTERMITTENT_MODELS,
    SLOW_MODELS,
    VALIDATED,
    VALIDATED_COMBINATIONS,
    WEIGHTED,
)
from shopintent.forecast.pharma import CATEGORIES, PAPER_XGBOOST_MAPE

W52 = "pharma weekly last-52 h1"
NO_ARIMA = tuple(m for m in ALL_MODELS if m not in SLOW_MODELS)  # AutoARIMA and AutoTBATS: weekly last-52 only
OTHER_MODELS: tuple[str, ...] = ("SeasonalNaive", "AutoETS", "AutoTheta", "ADIDA", "LightGBM", "Ensemble", VALIDATED)
ITEMS = "taobao items hourly h6"
#: The backtests whose ``ValidatedTop3`` intervals the coverage table shows.
COVERAGE_TAGS: tuple[tuple[str, str], ...] = (
    (W52, "pharma weekly, last 52 weeks, week 1"),
    ("pharma weekly h1-4", "pharma weekly, weeks 1-4"),
    ("pharma daily h7", "pharma daily, days 1-7"),
    ("cdnow daily h7", "CDNOW daily (store), days 1-7"),
    ("taobao hourly h6", "Taobao hourly (store), hours 1-6"),
    (ITEMS, "Taobao items hourly (store), hours 1-6"),
)
#: The models of the item-level backtest (bench forecast runs exactly these).
ITEM_MODELS: tuple[str, ...] = ("SeasonalNaive", "Naive", "AutoETS", *INTERMITTENT_MODELS, VALIDATED)
#: The models bench forecast also runs on the daily file and sums into weeks (validation weeks only).
DAILY_SCREEN: tuple[str, ...] = ("AutoETS", "AutoTheta", "LightGBM", "LightGBMSeasonal", "LightGBMLog")
OTHER_TAGS: tuple[tuple[str, str], ...] = (
    ("pharma weekly h1-4", "pharma weekly, weeks 1-4"),
    ("pharma daily h7", "pharma daily, days 1-7"),
    ("cdnow daily h7", "CDNOW daily (store), days 1-7"),
    ("taobao hourly h6", "Taobao hourly (store), hours 1-6"),
)


def _rule_rows(rule: str, what: str, pattern: str) -> tuple[tuple[Any, ...], ...]:
    """Per category: what a validated rule chose (``what``, read from its detail by ``pattern``), its MASE
    and its MAPE on the last 52 weeks; the three validated rules' tables share this shape."""
    from shopintent.evaluation.docs_render import Detail, Value  # late: docs_render imports this module

    return tuple((c, Detail(f"{W52} {rule} {c} {what}", pattern),
                  Value(f"{W52} {rule} {c} MASE", ".2f"), Value(f"{W52} {rule} {c} MAPE", ".2f"))
                 for c in CATEGORIES)


def forecast_tables() -> dict[str, Any]:
    """Block key → table for every generated block of docs/forecast.md."""
    from shopintent.evaluation.docs_render import Detail, Table, Value

    goal_model = Detail(f"{W52} goal model", r"^(\w+) \(lower")
    summary = tuple(
        (model, Value(f"{W52} {model} mean MASE", ".3f"), Value(f"{W52} {model} mean WAPE", ".3f"),
         Value(f"{W52} {model} 80% coverage", ".3f"), Value(f"{W52} {model} 95% coverage", ".3f"),
         Value(f"{W52} {model} backtest runtime", ".1f"))
        for model in ALL_MODELS)
    grid = tuple((model, *(Value(f"{W52} {model} {c} MASE", ".2f") for c in CATEGORIES)) for model in ALL_MODELS)
    mape_grid = tuple((model, *(Value(f"{W52} {model} {c} MAPE", ".2f") for c in CATEGORIES)) for model in ALL_MODELS)
    goals = tuple(
        (c, goal_model, Value(f"{W52} best {c} validation MAPE", ".2f"),
         Value(f"{W52} best {c} MAPE vs paper goal", ".2f"), f"{PAPER_XGBOOST_MAPE[c]}",
         Detail(f"{W52} best {c} MAPE vs paper goal", r"goal (≤ [\d.]+)"),
         Detail(f"{W52} best {c} MAPE vs paper goal", r"; (met|not met)$"),
         Value(f"{W52} MAPE-targeted {c} MAPE vs paper goal", ".2f"),
         Detail(f"{W52} MAPE-targeted {c} MAPE vs paper goal", r" × ([\d.]+) "),
         Detail(f"{W52} MAPE-targeted {c} MAPE vs paper goal", r"; (met|not met)$"),
         Value(f"{W52} best {c} relative MAE vs seasonal naive", ".3f"))
        for c in PAPER_XGBOOST_MAPE)
    relative = tuple((c, Value(f"{W52} best {c} relative MAE vs seasonal naive", ".3f"), goal_model)
                     for c in CATEGORIES)
    other = tuple(
        (label, Detail(f"{tag} best model", r"^(\w+) \(lowest"),
         *(Value(f"{tag} {m} mean MASE", ".3f") for m in OTHER_MODELS),
         Value(f"{tag} Ensemble 80% coverage", ".3f"), Value(f"{tag} Ensemble 95% coverage", ".3f"))
        for tag, label in OTHER_TAGS)
    stock = tuple(
        (label, Value(f"{tag} stock forecast fill rate (mean of series)", ".3f"),
         Value(f"{tag} stock naive fill rate (mean of series)", ".3f"),
         Value(f"{tag} stock average stock / mean demand, forecast policy", ".2f"),
         Value(f"{tag} stock average stock / mean demand, naive rule", ".2f"))
        for tag, label in (("pharma weekly h1-4", "pharma weekly, lead time 1 week"),
                           ("pharma daily", "pharma daily, lead time 2 days")))
    intent = tuple(
        (f"next {h} h", Value(f"intent next {h}h MAE, sales history only", ".4f"),
         Value(f"intent next {h}h MAE, with carts/favourites/views", ".4f"),
         Value(f"intent next {h}h MAE reduction from signals", ".4f"),
         Detail(f"intent next {h}h MAE reduction from signals", r"CI (\[[^\]]+\])"))
        for h in (1, 3, 6))
    items = tuple((m, Value(f"{ITEMS} {m} mean MASE", ".3f"), Value(f"{ITEMS} {m} mean WAPE", ".3f"),
                   Value(f"{ITEMS} {m} 80% coverage", ".3f"), Value(f"{ITEMS} {m} 95% coverage", ".3f"))
                  for m in ITEM_MODELS)
    validated = _rule_rows(VALIDATED, "members", r"^([^;]+);")
    diagnosis = tuple((c, Value(f"pharma diagnosis {c} weeks winsorised before the test", ".0f"),
                       Value(f"pharma diagnosis {c} validation mean / same weeks a year earlier", ".3f"))
                      for c in CATEGORIES)
    nested = tuple((rule, Value(f"{W52} nested validation {rule} mean WAPE", ".4f")) for rule in VALIDATED_COMBINATIONS)
    weights = _rule_rows(WEIGHTED, "largest weight", r"^([^;]+);")
    best = _rule_rows(BEST, "pick", r"^(\w+);")
    screen_daily = tuple((m, Value(f"pharma weekly screening {m} weekly validation mean WAPE", ".4f"),
                          Value(f"pharma weekly screening {m} daily summed validation mean WAPE", ".4f"))
                         for m in DAILY_SCREEN)
    screen_rules = (
        *((f"{rule} (the benchmark's pool)", Value(f"{W52} nested validation {rule} mean WAPE", ".4f"))
          for rule in (WEIGHTED, VALIDATED)),
        *((f"{rule} with the 5 daily-level models added",
           Value(f"pharma weekly screening nested {rule} with daily-level models mean WAPE", ".4f"))
          for rule in (WEIGHTED, VALIDATED)),
        *((f"w × SeasonalNaive + (1 − w) × {level}, w per series",
           Value(f"pharma weekly screening nested SeasonalNaive-{level} blend mean WAPE", ".4f"))
          for level in ("AutoETS", "SeasonalProfile")))
    coverage = tuple(
        (label, Detail(f"{tag} {VALIDATED} interval scale", r"^([\w ]+) \(chosen"),
         *(Value(f"{tag} {VALIDATED} {kind}{level}% coverage", ".3f") for level in (80, 95)
           for kind in ("validation ", "", "static ")))
        for tag, label in COVERAGE_TAGS)
    reach = tuple(
        (c, Detail(f"{W52} best {c} MAPE vs paper goal", r"goal (≤ [\d.]+)"),
         Value(f"{W52} MAPE reach {c}", ".2f"), Detail(f"{W52} MAPE reach {c}", r"; (\w+ × [\d.]+):"),
         Detail(f"{W52} MAPE reach {c}", r"; (reachable|out of reach)$"))
        for c in PAPER_XGBOOST_MAPE)
    runtime = (("wall clock", Value("benchmark run time", ".0f")), ("CPU, this process", Value("benchmark CPU time", ".0f")))
    intermittent = tuple((m, Value(f"taobao hourly h6 {m} mean WAPE", ".3f"),
                          Value(f"taobao hourly h6 {m} mean WAPE, intermittent series", ".3f")) for m in NO_ARIMA)
    return {
        "forecast.weekly": Table("forecast", ("model", "mean MASE", "mean WAPE", "80 % coverage", "95 % coverage",
                                              "backtest s"), summary),
        "forecast.weekly_mase": Table("forecast", ("model (MASE scale: in-sample 52-week seasonal-naive MAE)",
                                                   *CATEGORIES), grid),
        "forecast.weekly_mape": Table("forecast", ("model", *CATEGORIES), mape_grid),
        "forecast.paper": Table("forecast", ("category", "model", "validation MAPE %", "MAPE %",
                                             "paper XGBoost MAPE %", "goal", "",
                                             "MAPE-targeted MAPE %", "factor", "", "MAE / seasonal-naive MAE"),
                                goals),
        "forecast.relative": Table("forecast", ("category", "MAE / seasonal-naive MAE (goal < 1)", "model"),
                                   relative),
        "forecast.other": Table("forecast", ("backtest", "best", *OTHER_MODELS, "Ensemble 80 % cov.",
                                             "Ensemble 95 % cov."), other),
        "forecast.items": Table("forecast", ("model", "mean MASE", "mean WAPE", "80 % coverage", "95 % coverage"),
                                items),
        "forecast.validated": Table("forecast", ("category", "models chosen on validation", "MASE", "MAPE %"),
                                    validated),
        "forecast.diagnosis": Table("forecast", ("category", "weeks winsorised up to 2018-10-07 (of 248)",
                                                 "validation weeks' mean / same weeks a year earlier"), diagnosis),
        "forecast.file_check": Table("forecast", ("check", "value"), (
            ("largest absolute difference, weekly file vs daily file summed into weeks "
             "(every whole week and category)",
             Value("pharma diagnosis weekly file vs daily sums max abs difference", ".1f")),)),
        "forecast.nested": Table("forecast", ("combination rule", "mean WAPE, validation weeks 14-26 (chosen on "
                                                                "weeks 1-13)"), nested),
        "forecast.weights": Table("forecast", ("category", "largest weights (1 / validation MAE)", "MASE", "MAPE %"),
                                  weights),
        "forecast.best": Table("forecast", ("category", "model picked on validation (lowest MAE)", "MASE", "MAPE %"),
                               best),
        "forecast.screen_daily": Table("forecast", ("model", "validation mean WAPE, weekly series",
                                                    "validation mean WAPE, daily series summed into weeks"),
                                       screen_daily),
        "forecast.screen_rules": Table("forecast", ("candidate", "mean WAPE, validation weeks 14-26 (chosen on "
                                                    "weeks 1-13)"), screen_rules),
        "forecast.coverage": Table("forecast", ("backtest", "score normalisation (chosen on validation)",
                                                "80 %, validation", "80 %, test", "80 %, test, static quantile",
                                                "95 %, validation", "95 %, test", "95 %, test, static quantile"),
                                   coverage),
        "forecast.mape_reach": Table("forecast", ("category", "goal", "lowest test MAPE % of any model × factor "
                                                  "(chosen on the test weeks)", "model × factor", ""), reach),
        "forecast.runtime": Table("forecast", ("time", "seconds"), runtime),
        "forecast.intermittent": Table("forecast", ("model", "WAPE, all 11 series", "WAPE, intermittent series"),
                                       intermittent),
        "forecast.stock": Table("forecast", ("backtest", "fill rate, forecast policy", "fill rate, naive rule",
                                             "stock / mean demand, forecast", "stock / mean demand, naive"), stock),
        "forecast.intent": Table("forecast", ("horizon", "MAE, sales only", "MAE, + carts/favs/views",
                                              "MAE reduction", "95 % CI"), intent),
    }
