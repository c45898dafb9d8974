"""The fairness and profile commands: choices match the library, missing inputs give clear errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from shopintent.cli.choices import FairnessPart, values
from shopintent.cli.main import app
from shopintent.fairness.run import PARTS
from shopintent.settings import Settings, get_settings


def test_fairness_parts_are_the_runs_parts() -> None:
    assert values(FairnessPart) == PARTS


def test_profile_commands_name_the_missing_store_and_profiles(settings: Settings, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    built = runner.invoke(app, ["profile", "build", "--store", str(tmp_path / "none.duckdb")])
    assert built.exit_code == 2 and "no event store; ingest events first" in built.output
    shown = runner.invoke(app, ["profile", "show", "u_123"])
    assert shown.exit_code == 2 and "run `shopintent profile build`" in shown.output
    get_settings.cache_clear()


def test_audit_names_the_missing_data_of_a_model_it_cannot_train(settings: Settings, monkeypatch,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("SHOPINTENT_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("SHOPINTENT_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("SHOPINTENT_ALLOW_DOWNLOAD", "false")
    get_settings.cache_clear()
    audited = CliRunner().invoke(app, ["audit", "fairness", "--part", "dp", "--out", str(tmp_path / "r.html")])
    get_settings.cache_clear()
    assert audited.exit_code == 2 and "taobao_userbehavior_head" in audited.output, audited.output
    assert not (tmp_path / "r.html").exists()
