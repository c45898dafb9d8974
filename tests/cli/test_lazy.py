"""The CLI imports a sub-app only when it is used; listing and help still show every one, in order."""

from __future__ import annotations

import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from shopintent.cli.main import COMMANDS, SUB_APPS, app

#: In a fresh interpreter: resolve `shopintent serve` as the command line does, report what got imported.
_RESOLVE_SERVE = """
import json, sys
import typer
from shopintent.cli.main import app
group = typer.main.get_command(app)
serve = group.get_command(typer.Context(group), "serve")
print(json.dumps({"serve": serve.name,
                  "areas": sorted(m for m in sys.modules if m.startswith("shopintent.cli.")),
                  "heavy": sorted(m for m in ("sklearn", "torch", "duckdb", "lightgbm") if m in sys.modules)}))
"""


def test_resolving_serve_imports_no_other_area_and_no_model_library() -> None:
    run = subprocess.run([sys.executable, "-c", _RESOLVE_SERVE], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["serve"] == "serve"
    other_areas = {f"shopintent.cli.{name}" for name, _ in SUB_APPS + COMMANDS} - {"shopintent.cli.serve"}
    assert not other_areas & set(seen["areas"])
    assert seen["heavy"] == []


def test_help_lists_every_registered_command_in_registration_order() -> None:
    group = typer.main.get_command(app)
    names = group.list_commands(typer.Context(group))
    expected = [name for name, _ in COMMANDS] + ["version"] + [name for name, _ in SUB_APPS]
    assert names == expected
    listed = CliRunner().invoke(app, ["--help"])
    assert listed.exit_code == 0
    positions = [listed.output.index(f"\n  {name} ") for name in expected]
    assert positions == sorted(positions)


def test_a_mistyped_command_suggests_the_lazy_one() -> None:
    result = CliRunner().invoke(app, ["sreve"])
    assert result.exit_code == 2
    assert "Did you mean 'serve'" in result.output
