"""``shopintent forecast backtest --events``: a raw event file → demand per category through the store → backtest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from shopintent.cli.main import app
from shopintent.datasets import taobao_userbehavior_head
from shopintent.forecast.events import event_demand
from shopintent.settings import Settings

runner = CliRunner()
TOP = 3


@pytest.fixture(scope="module")
def taobao_slice(tmp_path_factory: pytest.TempPathFactory, session_settings: Settings) -> tuple[Path, pd.Series]:
    """Every event of the 3 most-bought Taobao categories (real rows) plus one copy with a bad event type."""
    events = taobao_userbehavior_head.load(session_settings).events
    top = events[events["event_type"] == "purchase"]["category_id"].value_counts().index[:TOP]
    part = events[events["category_id"].isin(top)].drop(columns=["event_id"])
    bought = part[part["event_type"] == "purchase"]["category_id"].astype(str).value_counts()
    broken = part[part["event_type"] == "purchase"].head(1).assign(event_type="teleport")
    table = pd.concat([part, broken])
    table["timestamp"] = table["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path_factory.mktemp("events") / "taobao_slice.csv"
    table.to_csv(path, index=False)
    return path, bought


def test_event_file_backtest_reads_category_demand_through_the_store(taobao_slice: tuple[Path, pd.Series],
                                                                     cli_env: Path) -> None:
    path, bought = taobao_slice
    result = runner.invoke(app, ["forecast", "backtest", "--events", str(path), "--level", "category",
                                 "--utc-offset", "8", "--freq", "H", "--horizon", "3", "--models",
                                 "SeasonalNaive,Naive,ADIDA", "--windows", "4", "--calibration", "10", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["models"]) == {"SeasonalNaive", "Naive", "ADIDA"}
    assert out["best"] == min(out["models"], key=lambda m: out["models"][m]["mase"])
    ingest = out["events"]
    # The bad row is rejected and named, not counted as demand.
    assert ingest["rejected"] == 1 and "event_type" in ingest["first_rejections"][0]
    assert out["input"]["series_forecast"] == TOP
    assert sorted(out["intermittent_series"]) == sorted(bought.index)  # most hours sell nothing
    assert {r["unique_id"] for r in out["per_series"]} == set(bought.index)


def test_event_demand_counts_each_purchase_once_in_china_time(taobao_slice: tuple[Path, pd.Series],
                                                              session_settings: Settings) -> None:
    path, bought = taobao_slice
    series, ingest = event_demand(path, "H", "category", 8, session_settings)
    assert series.groupby("unique_id")["y"].sum().to_dict() == {k: float(v) for k, v in bought.items()}
    assert series["ds"].min() >= pd.Timestamp("2017-11-25") and series.groupby("unique_id").size().nunique() == 1
    assert ingest["stored"] == ingest["rows"] - 1


def test_events_and_data_together_is_an_error(taobao_slice: tuple[Path, pd.Series], cli_env: Path) -> None:
    path, _ = taobao_slice
    result = runner.invoke(app, ["forecast", "backtest", "--events", str(path), "--data", str(path), "--json"])
    assert result.exit_code == 2
    assert "exactly one of --data" in " ".join(result.output.split())
