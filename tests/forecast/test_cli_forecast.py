"""``shopintent forecast backtest|fit|predict`` on a file it has never seen, with gaps, duplicates and bad series."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app

runner = CliRunner()
MODELS = "SeasonalNaive,Naive,ADIDA"


@pytest.fixture(scope="module")
def sales_file(tmp_path_factory: pytest.TempPathFactory, daily: pd.DataFrame) -> Path:
    """Real daily sales of 3 categories, semicolon-separated, as a shop might export them: one day
    missing, one day booked twice, plus a category with a return (negative) and a 5-day-old one."""
    recent = daily[(daily["ds"] >= "2019-03-01") & daily["unique_id"].isin(["N02BE", "R03", "N05C"])].copy()
    recent = recent[~((recent["unique_id"] == "R03") & (recent["ds"] == "2019-06-03"))]
    twice = recent[(recent["unique_id"] == "N02BE") & (recent["ds"] == "2019-06-04")].assign(y=1.0)
    returns = recent[recent["unique_id"] == "N05C"].assign(unique_id="M01AB")
    returns.loc[returns.index[10], "y"] = -2.0
    young = recent[recent["unique_id"] == "N02BE"].tail(5).assign(unique_id="NEW")
    table = pd.concat([recent, twice, returns, young])
    table = table.rename(columns={"unique_id": "product", "ds": "sold_on", "y": "units"})
    table["sold_on"] = table["sold_on"].dt.strftime("%m/%d/%Y")  # US dates, as the pharma files
    path = tmp_path_factory.mktemp("shop") / "sales.csv"
    table.to_csv(path, sep=";", index=False)
    return path


def _run(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_backtest_reports_every_model_names_the_best_and_counts_what_it_changed(sales_file: Path,
                                                                              cli_env: Path) -> None:
    out = _run(["forecast", "backtest", "--data", str(sales_file), "--id-col", "product", "--date-col", "sold_on",
                "--value-col", "units", "--freq", "D", "--horizon", "7", "--models", MODELS, "--windows", "4",
                "--calibration", "10", "--json"])
    assert set(out["models"]) == {"SeasonalNaive", "Naive", "ADIDA"}
    for metrics in out["models"].values():
        assert metrics["mase"] > 0 and 0 < metrics["wape"] < 2
    assert out["best"] == min(out["models"], key=lambda m: out["models"][m]["mase"])
    handled = out["input"]
    assert handled["series_input"] == 5 and handled["series_forecast"] == 3
    assert "negative" in handled["excluded"]["M01AB"] and "5 periods" in handled["excluded"]["NEW"]
    assert handled["duplicate_rows_summed"] == {"N02BE": 1} and handled["gaps_filled"] == {"R03": 1}
    assert "N05C" in out["intermittent_series"]


def test_fit_then_predict_gives_the_horizon_with_ordered_intervals(sales_file: Path, tmp_path: Path,
                                                                   cli_env: Path) -> None:
    model = tmp_path / "model"
    fitted = _run(["forecast", "fit", "--data", str(sales_file), "--id-col", "product", "--date-col", "sold_on",
                   "--value-col", "units", "--horizon", "3", "--models", MODELS, "--windows", "4",
                   "--calibration", "10", "--out", str(model), "--json"])
    out = _run(["forecast", "predict", "--model", str(model), "--json"])
    assert out["model"] == fitted["model"]
    rows = pd.DataFrame(out["forecasts"])
    assert len(rows) == 9 and set(rows["unique_id"]) == {"N02BE", "R03", "N05C"}
    assert (rows["lo-95"] <= rows["lo-80"]).all() and (rows["lo-80"] <= rows["forecast"]).all()
    assert (rows["forecast"] <= rows["hi-80"]).all() and (rows["hi-80"] <= rows["hi-95"]).all()
    assert rows["ds"].min() == "2019-10-09T00:00:00"


def test_a_quantity_that_is_not_a_number_exits_2_naming_the_row(tmp_path: Path, cli_env: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("sku,day,qty\na,2024-01-01,3\na,2024-01-02,three\n")
    result = runner.invoke(app, ["forecast", "backtest", "--data", str(path), "--id-col", "sku", "--date-col", "day",
                                 "--value-col", "qty", "--json"])
    assert result.exit_code == 2
    assert "row 3: qty 'three' is not a number" in " ".join(result.output.split())
