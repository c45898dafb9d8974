"""Any (series id, date, quantity) table → regular series, with every change counted per series.

Why a module of its own: sales files arrive with missing days, duplicated rows, returns
booked as negative quantities and products that started selling last week. A forecaster
silently given such data either fails far from the cause or learns from a distorted
series. Here each problem is either an error naming the row, or a documented per-series
decision that is counted in :class:`SeriesReport` (never a silent drop):

* unparseable date or non-numeric quantity → :class:`SeriesError` naming the row;
* duplicate (series, date) rows → summed (several till rows of one day are one day's
  demand), counted as ``duplicate_rows_summed``;
* gaps (a period with no row) → filled with 0 (no row means nothing sold), counted as
  ``gaps_filled``;
* negative quantities → the series is left out (a return is not demand, and guessing a
  correction would invent data), counted with the first offending row;
* too few periods for the backtest → the series is left out, counted.

The other series are forecast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shopintent.log import get_logger

log = get_logger(__name__)

#: pandas frequency of each accepted ``--freq``; weeks end on Sunday as in the pharma files.
FREQUENCIES: dict[str, str] = {"D": "D", "W": "W-SUN", "H": "h"}
#: The seasonal period of each frequency (weekly: a year; daily: a week; hourly: a day).
SEASON_LENGTH: dict[str, int] = {"D": 7, "W": 52, "H": 24}


class SeriesError(ValueError):
    """The input cannot be read as series; the message names the column and row."""


@dataclass
class SeriesReport:
    """What preparation did, per series and in total, so nothing is dropped silently."""

    n_input_rows: int
    n_series_input: int
    duplicate_rows_summed: dict[str, int] = field(default_factory=dict)
    gaps_filled: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def n_series_forecast(self) -> int:
        """Series that go on to be forecast."""
        return self.n_series_input - len(self.excluded)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary (counts and the per-series reasons)."""
        return {
            "input_rows": self.n_input_rows,
            "series_input": self.n_series_input,
            "series_forecast": self.n_series_forecast,
            "series_excluded": len(self.excluded),
            "excluded": dict(self.excluded),
            "duplicate_rows_summed": {k: v for k, v in self.duplicate_rows_summed.items() if v},
            "gaps_filled": {k: v for k, v in self.gaps_filled.items() if v},
        }


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a delimited file (separator sniffed), every column as text until checked."""
    path = Path(path)
    if not path.is_file():
        raise SeriesError(f"--data {path}: no such file")
    return pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)


def _column(frame: pd.DataFrame, name: str, option: str) -> pd.Series:
    if name not in frame.columns:
        raise SeriesError(f"{option} {name!r} is not a column; the file has: {', '.join(map(str, frame.columns))}")
    return frame[name]


def _first_bad(mask: pd.Series, values: pd.Series, column: str, what: str) -> None:
    if mask.any():
        row = int(mask.to_numpy().nonzero()[0][0])
        raise SeriesError(f"row {row + 2}: {column} {values.iloc[row]!r} is not {what} "
                          f"({int(mask.sum())} such rows; row numbers count the header as row 1)")


def prepare(frame: pd.DataFrame, id_col: str, date_col: str, value_col: str, freq: str,
            min_length: int) -> tuple[pd.DataFrame, SeriesReport]:
    """Long ``unique_id, ds, y`` series on a regular ``freq`` grid, and the report of what changed.

    ``min_length`` is the fewest periods a series needs (the backtest's cut-offs plus a
    season of history); shorter series are excluded and named in the report.
    """
    if freq not in FREQUENCIES:
        raise SeriesError(f"--freq {freq!r}: use one of {', '.join(FREQUENCIES)}")
    ids = _column(frame, id_col, "--id-col").astype(str)
    raw_dates = _column(frame, date_col, "--date-col")
    raw_values = _column(frame, value_col, "--value-col")
    # One format inferred for the whole column: an ambiguous day-month mix becomes an error, not a silent swap.
    dates = pd.to_datetime(raw_dates, errors="coerce")
    _first_bad(dates.isna(), raw_dates, date_col, "a date")
    values = pd.to_numeric(raw_values, errors="coerce")
    _first_bad(values.isna(), raw_values, value_col, "a number")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    pandas_freq = FREQUENCIES[freq]
    periods = dates.dt.to_period(pandas_freq).dt.end_time.dt.normalize() if freq == "W" else dates.dt.floor(pandas_freq)
    long = pd.DataFrame({"unique_id": ids.to_numpy(), "ds": periods.to_numpy(), "y": values.to_numpy(dtype=float),
                         "row": range(len(frame))})
    report = SeriesReport(n_input_rows=len(frame), n_series_input=long["unique_id"].nunique())
    out = []
    for uid, group in long.groupby("unique_id", sort=True):
        negative = group[group["y"] < 0]
        if len(negative):
            first = negative.iloc[0]
            report.excluded[uid] = (f"{len(negative)} negative quantities (first at row {int(first['row']) + 2}: "
                                    f"{first['y']:g}); returns are not demand")
            continue
        summed = group.groupby("ds", sort=True)["y"].sum()
        report.duplicate_rows_summed[uid] = len(group) - len(summed)
        grid = pd.date_range(summed.index.min(), summed.index.max(), freq=pandas_freq)
        report.gaps_filled[uid] = len(grid) - len(summed)
        regular = summed.reindex(grid, fill_value=0.0)
        if len(regular) < min_length:
            report.excluded[uid] = f"{len(regular)} periods, fewer than the {min_length} the backtest needs"
            continue
        out.append(pd.DataFrame({"unique_id": uid, "ds": regular.index, "y": regular.to_numpy()}))
    if not out:
        raise SeriesError("no series left to forecast: " + "; ".join(f"{k}: {v}" for k, v in report.excluded.items()))
    series = pd.concat(out, ignore_index=True)
    log.info("series prepared", **{k: v for k, v in report.as_dict().items() if isinstance(v, int)})
    return series, report
