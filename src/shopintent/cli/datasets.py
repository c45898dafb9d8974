"""``shopintent datasets …``: list the public data sets and verify them."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress

from shopintent.cli.choices import DatasetName
from shopintent.cli.output import console, description_column, print_json, table
from shopintent.datasets import registry
from shopintent.settings import get_settings

app = typer.Typer(help="List and verify the public data sets (counts and checksums).", no_args_is_help=True)


@app.command("list")
def list_datasets(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Name, task, rows, licence and whether each data set is on disk."""
    settings = get_settings()
    rows = [
        {
            "name": spec.name,
            "task": spec.task,
            "language": spec.language,
            "rows": spec.rows,
            "licence": spec.licence,
            "present": spec.is_present(settings),
            "path": str(spec.directory(settings)),
        }
        for spec in registry.all_specs()
    ]
    if as_json:
        print_json(rows)
        return
    console.print(
        table(
            f"Data sets in {settings.data_dir}",
            ["name", "task", "lang", "rows", "licence", "present"],
            [[r["name"], r["task"], r["language"], f"{r['rows']:,}", r["licence"], "yes" if r["present"] else "NO"]
             for r in rows],
        )
    )


@app.command("verify")
def verify_datasets(
    names: list[DatasetName] = typer.Argument(None, help="Data sets to verify (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check every file's SHA-256 and the row counts PROVENANCE states; exit 1 on any mismatch.

    An unknown name exits 2 with the list of known ones before anything is read.
    """
    settings = get_settings()
    chosen = [name.value for name in names] if names else list(registry.DATASET_NAMES)
    checks = []
    with Progress(description_column(), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True, disable=as_json) as progress:
        task = progress.add_task("verifying", total=len(chosen))
        for name in chosen:
            progress.update(task, description=f"verifying {name}")
            checks.append(registry.verify(name, settings))
            progress.advance(task)
    if as_json:
        print_json({"data_dir": str(settings.data_dir), "ok": all(c.ok for c in checks),
                    "datasets": [c.as_dict() for c in checks]})
    else:
        console.print(
            table(
                f"Verification of {settings.data_dir}",
                ["name", "files", "counts", "result"],
                [[c.name, f"{sum(f.sha256_ok is True for f in c.files)}/{len(c.files)} sha256 ok",
                  ", ".join(f"{k}={v:,}" for k, v in list(c.counts.items())[:4]),
                  "ok" if c.ok else "FAILED: " + "; ".join(c.errors)] for c in checks],
            )
        )
    if not all(c.ok for c in checks):
        raise typer.Exit(code=1)
