"""Input handling is counted per series, never silent; stock policy arithmetic on known cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopintent.forecast.series import SeriesError, prepare
from shopintent.forecast.stock import reorder_point, simulate


def _frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["sku", "day", "qty"])


def test_duplicates_are_summed_gaps_zero_filled_and_bad_series_excluded_with_reasons() -> None:
    rows = [("a", f"2024-01-{d:02d}", "2") for d in range(1, 21)]
    rows.append(("a", "2024-01-05", "3"))  # duplicate day: summed
    rows = [r for r in rows if r[1] != "2024-01-10"]  # a gap: filled with 0
    rows += [("b", f"2024-01-{d:02d}", "1") for d in range(1, 21)] + [("b", "2024-01-07", "-4")]
    rows += [("c", f"2024-01-{d:02d}", "1") for d in range(1, 5)]
    series, report = prepare(_frame(rows), "sku", "day", "qty", "D", min_length=10)
    a = series[series["unique_id"] == "a"].set_index("ds")["y"]
    assert a[pd.Timestamp("2024-01-05")] == 5 and a[pd.Timestamp("2024-01-10")] == 0 and len(a) == 20
    assert report.duplicate_rows_summed["a"] == 1 and report.gaps_filled["a"] == 1
    assert set(report.excluded) == {"b", "c"}
    assert "negative" in report.excluded["b"] and "row 42" in report.excluded["b"]
    assert "4 periods" in report.excluded["c"]
    assert report.as_dict()["series_forecast"] == 1


def test_a_bad_date_is_an_error_naming_the_row() -> None:
    rows = [("a", "2024-01-01", "1"), ("a", "next tuesday", "1")]
    with pytest.raises(SeriesError, match=r"row 3: day 'next tuesday' is not a date"):
        prepare(_frame(rows), "sku", "day", "qty", "D", min_length=1)


def test_a_missing_column_is_named() -> None:
    with pytest.raises(SeriesError, match="--value-col 'units' is not a column"):
        prepare(_frame([("a", "2024-01-01", "1")]), "sku", "day", "units", "D", min_length=1)


def test_reorder_point_adds_root_sum_square_safety_stock() -> None:
    rop, ss = reorder_point(np.array([10.0, 20.0, 99.0]), np.array([3.0, 4.0, 99.0]), lead_time=1)
    assert (rop, ss) == (35.0, 5.0)


def test_simulation_counts_lost_sales_and_stock_with_a_lead_time() -> None:
    demand = np.array([4.0, 4.0, 8.0, 4.0])
    # Order up to 8 each period, 1-period lead time: the 8-unit week runs short by 4.
    result = simulate(demand, np.full(4, 8.0), lead_time=1)
    assert result["fill_rate"] == pytest.approx(16 / 20)
    assert result["average_stock"] == pytest.approx((4 + 0 + 0 + 0) / 4)
