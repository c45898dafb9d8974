"""``shopintent forecast …``: backtest, fit and predict demand from any (series id, date, quantity) file."""

from __future__ import annotations

from pathlib import Path

import typer

from shopintent.cli.choices import ForecastFreq
from shopintent.cli.output import console, description_column, errors, print_json, step_progress, table

app = typer.Typer(help="Demand forecasting: rolling-origin backtests, fit, predict with intervals.",
                  no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
DATA = typer.Option(..., "--data", help="Delimited file with one row per series, date and quantity (separator sniffed).")
SALES = typer.Option(None, "--data", help="Delimited file with one row per series, date and quantity (separator "
                                          "sniffed); or give --events.")
EVENTS = typer.Option(None, "--events", help="Raw event file (CSV, Parquet, JSON lines; the store's event fields): "
                                             "demand = units bought per --level, read through the event store.")
LEVEL = typer.Option("category", "--level", help="With --events: series per category, item or total (the shop).")
UTC_OFFSET = typer.Option(0, "--utc-offset", help="With --events: the shop's UTC offset in hours (day/hour buckets).")
ID_COL = typer.Option(..., "--id-col", help="Column naming the series (product, category, store …).")
DATE_COL = typer.Option(..., "--date-col", help="Column holding the date (or date-time for --freq H).")
VALUE_COL = typer.Option(..., "--value-col", help="Column holding the quantity sold (non-negative).")
OPT_ID_COL = typer.Option(None, "--id-col", help="With --data: column naming the series (product, category …).")
OPT_DATE_COL = typer.Option(None, "--date-col", help="With --data: column holding the date (date-time for --freq H).")
OPT_VALUE_COL = typer.Option(None, "--value-col", help="With --data: column holding the quantity sold (non-negative).")
FREQ = typer.Option(ForecastFreq.D, "--freq", help="Period: D day, W week ending Sunday, H hour.")
HORIZON = typer.Option(7, "--horizon", help="Periods ahead to forecast from every cut-off.")
MODELS = typer.Option(None, "--models",
                      help="Comma-separated models (default: all but AutoARIMA, which is slow on long series, MSTL, "
                           "LightGBMLog and ValidatedTop3); choices: SeasonalNaive, Naive, AutoETS, AutoARIMA, "
                           "AutoTheta, MSTL, CrostonOptimized, ADIDA, IMAPA, LightGBM, LightGBMLog, Ensemble, "
                           "ValidatedTop3 (backtest only).")
WINDOWS = typer.Option(8, "--windows", help="Scored cut-offs (one period apart, the latest ones).")
CALIBRATION = typer.Option(26, "--calibration", help="Earlier cut-offs that only calibrate the intervals.")
SEED = typer.Option(0, "--seed", help="LightGBM's random seed.")
OUT = typer.Option(..., "--out", help="Model directory to write.")
MODEL_DIR = typer.Option(..., "--model", help="Model directory written by `forecast fit`.")


def _models(text: str | None) -> tuple[str, ...]:
    from shopintent.forecast.models import FAST_MODELS, check_models

    return FAST_MODELS if not text else check_models(tuple(m.strip() for m in text.split(",") if m.strip()))


def _fail(exc: Exception) -> None:
    errors.print(str(exc))
    raise typer.Exit(code=2) from exc


def _model_progress(models: tuple[str, ...], quiet: bool):  # noqa: ANN202 - rich Progress and a callback
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from shopintent.forecast.models import COMBINATIONS

    progress = Progress(description_column(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=errors, transient=True, disable=quiet)
    task = progress.add_task("backtesting models", total=len([m for m in models if m not in COMBINATIONS]))
    return progress, lambda name: progress.update(task, advance=1, description=f"backtested {name}")


def _source(data: Path | None, events: Path | None, columns: dict[str, str | None]) -> None:
    """Exactly one of --data / --events; --data needs its three column options."""
    from shopintent.forecast.series import SeriesError

    if (data is None) == (events is None):
        raise SeriesError("give exactly one of --data (a sales table) or --events (an event file)")
    missing = [option for option, value in columns.items() if value is None]
    if data is not None and missing:
        raise SeriesError(f"--data needs {', '.join(missing)}")


@app.command("backtest")
def backtest_command(data: Path | None = SALES, events: Path | None = EVENTS, id_col: str | None = OPT_ID_COL,
                     date_col: str | None = OPT_DATE_COL, value_col: str | None = OPT_VALUE_COL,
                     level: str = LEVEL, utc_offset: int = UTC_OFFSET,
                     freq: ForecastFreq = FREQ, horizon: int = HORIZON, models: str = MODELS,
                     windows: int = WINDOWS, calibration: int = CALIBRATION, seed: int = SEED,
                     as_json: bool = JSON_OPTION) -> None:
    """Rolling-origin backtest of every model: MASE, WAPE, MAPE, 80/95 % interval coverage; names the best.

    From a sales table (--data with --id-col/--date-col/--value-col) or from a raw event file
    (--events: units bought per --level, through the event store).
    """
    from shopintent.forecast.run import backtest_events, backtest_file
    from shopintent.forecast.series import SeriesError
    from shopintent.settings import get_settings

    try:
        _source(data, events, {"--id-col": id_col, "--date-col": date_col, "--value-col": value_col})
        chosen = _models(models)
        progress, advance = _model_progress(chosen, as_json)
        with progress:
            if events is not None:
                result = backtest_events(events, level, utc_offset, freq.value, horizon, chosen, windows,
                                         calibration, get_settings(), seed, advance)
            else:
                result = backtest_file(data, id_col, date_col, value_col, freq.value, horizon, chosen, windows,
                                       calibration, seed, advance)
    except (SeriesError, ValueError) as exc:
        _fail(exc)
    if as_json:
        print_json(result)
        return
    rows = [[name, f"{m['mase']:.3f}", f"{m['wape']:.3f}", "–" if m["mape"] is None else f"{m['mape']:.2f}",
             "–" if m["coverage_80"] is None else f"{m['coverage_80']:.2f}",
             "–" if m["coverage_95"] is None else f"{m['coverage_95']:.2f}", f"{m['runtime_s']:.1f}"]
            for name, m in result["models"].items()]
    console.print(table(f"backtest: {result['protocol']}", ["model", "MASE", "WAPE", "MAPE %", "cover 80",
                                                            "cover 95", "s"], rows))
    console.print(f"best: {result['best']}; series forecast {result['input']['series_forecast']}, "
                  f"excluded {result['input']['series_excluded']}")
    for uid, reason in result["input"]["excluded"].items():
        console.print(f"  excluded {uid}: {reason}")
    if "events" in result:
        ingest = result["events"]
        console.print(f"events: {ingest['rows']:,} rows, {ingest['stored']:,} stored, {ingest['duplicates']:,} "
                      f"duplicates, {ingest['rejected']:,} rejected; {ingest['series_without_purchases']:,} "
                      f"{ingest['level']} series without purchases not forecast")


@app.command("fit")
def fit_command(data: Path = DATA, id_col: str = ID_COL, date_col: str = DATE_COL, value_col: str = VALUE_COL,
                freq: ForecastFreq = FREQ, horizon: int = HORIZON, models: str = MODELS, windows: int = WINDOWS,
                calibration: int = CALIBRATION, seed: int = SEED, out: Path = OUT,
                as_json: bool = JSON_OPTION) -> None:
    """Backtest, keep the best model and its conformal interval widths, save to --out."""
    from shopintent.forecast.forecaster import Forecaster
    from shopintent.forecast.run import prepare_file
    from shopintent.forecast.series import SeriesError

    try:
        chosen = _models(models)
        series, report = prepare_file(data, id_col, date_col, value_col, freq.value, horizon, chosen, windows,
                                      calibration)
        forecaster = Forecaster(freq=freq.value, horizon=horizon, models=chosen, windows=windows,
                                calibration=calibration, seed=seed)
        with step_progress(quiet=as_json) as progress:
            progress.add_task(f"fitting on {data} (backtest of {len(chosen)} models + selection)", total=None)
            forecaster.fit(series)
        forecaster.save(out)
    except (SeriesError, ValueError) as exc:
        _fail(exc)
    summary = {"model": forecaster.model_, "out": str(out), "backtest": forecaster.backtest_,
               "input": report.as_dict()}
    if as_json:
        print_json(summary)
    else:
        console.print(f"saved {out}: best model {forecaster.model_} "
                      f"(MASE {forecaster.backtest_[forecaster.model_]['mase']:.3f})")


@app.command("predict")
def predict_command(model: Path = MODEL_DIR, as_json: bool = JSON_OPTION) -> None:
    """Forecast the next horizon of every saved series with 80 and 95 % intervals."""
    from shopintent.forecast.forecaster import Forecaster
    from shopintent.persist import ModelFileError

    try:
        forecaster = Forecaster.load(model)
        frame = forecaster.predict()
    except (ModelFileError, ValueError) as exc:
        _fail(exc)
    frame["ds"] = frame["ds"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    if as_json:
        print_json({"model": forecaster.model_, "forecasts": frame.to_dict("records")})
        return
    console.print(table(f"forecast ({forecaster.model_})", list(frame.columns),
                        [[f"{v:.2f}" if isinstance(v, float) else v for v in r] for r in frame.itertuples(index=False)]))
