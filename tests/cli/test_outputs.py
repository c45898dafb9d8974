"""What the CLI prints and where it writes: tables for people, paths from settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopintent.cli.bench import default_markdown
from shopintent.cli.main import app
from shopintent.settings import Settings, get_settings

runner = CliRunner()
CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared CLI set-up, run from a working folder that is neither the data nor the state."""
    monkeypatch.chdir(cli_env)
    return cli_env


@pytest.fixture
def taobao_slice(cli_env: Path) -> Path:
    """The real Taobao events of the first 40 shoppers, as a canonical CSV."""
    from shopintent.datasets import taobao_userbehavior_head

    events = taobao_userbehavior_head.load(get_settings()).events
    first = events["user_id"].drop_duplicates().head(40)
    path = cli_env / "taobao40.csv"
    events[events["user_id"].isin(first)].to_csv(path, index=False)
    return path


def test_intervene_replay_prints_tables_and_json_gives_the_dict(
        cli_env: Path, taobao_slice: Path) -> None:
    args = ["intervene", "replay", "--events", str(taobao_slice), "--log", str(cli_env / "d.jsonl")]
    as_json = runner.invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["n_events"] > 1000 and report["n_decisions"] > 0
    assert report["decision_log"] == str(cli_env / "d.jsonl")

    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "{" not in shown.stdout  # no raw dict left in the people's output
    for title in ("Decision-engine replay", "Actions", "Caps and eligibility", "Spent per day"):
        assert title in shown.stdout
    assert f"{report['n_events']:,}" in shown.stdout
    day, spent = sorted(report["spent"].items())[0]
    assert str(day) in shown.stdout and f"{spent:,.2f}" in shown.stdout


def test_store_export_and_import_round_trip_with_progress(cli_env: Path, taobao_slice: Path) -> None:
    ingested = runner.invoke(app, ["store", "ingest", str(taobao_slice), "--json"])
    assert ingested.exit_code == 0, ingested.output
    stored = json.loads(ingested.stdout)["appended"]
    exported = runner.invoke(app, ["store", "export", str(cli_env / "out.parquet")])
    assert exported.exit_code == 0, exported.output
    assert f"exported {stored:,} events to" in exported.output
    imported = runner.invoke(app, ["store", "import", str(cli_env / "out.parquet"),
                                   "--store", str(cli_env / "copy.duckdb"), "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == {"appended": stored, "duplicates": 0}


def test_store_import_of_a_missing_file_exits_2_naming_it(cli_env: Path) -> None:
    result = runner.invoke(app, ["store", "import", "x[/]y.parquet"])
    assert result.exit_code == 2, result.output
    assert "x[/]y.parquet" in result.output


def test_results_dir_is_the_checkouts_whatever_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOPINTENT_RESULTS_DIR", raising=False)
    assert Settings(state_dir=tmp_path / "state").results_dir == CHECKOUT / "benchmarks" / "results"
    monkeypatch.setenv("SHOPINTENT_RESULTS_DIR", str(tmp_path / "mine"))
    assert Settings().results_dir == tmp_path / "mine"


def test_benchmarks_page_goes_beside_the_results_benchmarks_folder(tmp_path: Path) -> None:
    assert default_markdown(CHECKOUT / "benchmarks" / "results") == CHECKOUT / "BENCHMARKS.md"
    assert default_markdown(tmp_path / "runs") == tmp_path / "runs" / "BENCHMARKS.md"


def test_dashboard_cards_read_results_from_settings_unless_the_config_names_a_folder(
        tmp_path: Path) -> None:
    from shopintent.serve.config import ServeConfig

    settings = Settings(state_dir=tmp_path, results_dir=tmp_path / "results")
    assert ServeConfig().resolved_results_dir(settings) == tmp_path / "results"
    assert ServeConfig(results_dir=tmp_path / "x").resolved_results_dir(settings) == tmp_path / "x"
