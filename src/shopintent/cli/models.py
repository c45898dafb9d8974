"""``shopintent models prepare|status``: train the default models before serving; list them.

    shopintent models prepare                 # every default model, here (the fast ones first)
    shopintent models prepare --fast-only     # only what the service needs to answer everything
    shopintent models prepare --background    # the fast ones here, the rest in a detached process
    shopintent models status [--json]

The service never trains: it loads what this command prepared and answers 503
("run `shopintent models prepare`") for what is missing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich import box
from rich.progress import Progress, ProgressBar, ProgressColumn, Task
from rich.table import Table
from rich.text import Text

from shopintent.cli.choices import DefaultModelName
from shopintent.cli.output import console, description_column, errors, print_json
from shopintent.settings import get_settings

app = typer.Typer(help="Default models: prepare them before serving, see what is there.",
                  no_args_is_help=True)


class _EstimateBar(ProgressColumn):
    """A bar of elapsed time against the estimate (the trainers report no steps to count)."""

    def render(self, task: Task) -> ProgressBar:
        estimate = max(float(task.fields.get("estimate", 1.0)), 1.0)
        if task.finished:
            done = estimate
        else:  # never shows "done" before it is: stops just short of the end when it runs long
            done = min(task.elapsed or 0.0, estimate * 0.99)
        return ProgressBar(total=estimate, completed=done, width=30)


class _EstimateText(ProgressColumn):
    """``12 s / ≈ 40 s (measured here)`` while running; the outcome once done."""

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text(str(task.fields.get("result", "")))
        if not task.started:
            return Text(f"≈ {task.fields.get('estimate', 0):.0f} s ({task.fields.get('source', '')})")
        return Text(f"{task.elapsed or 0:.0f} s / ≈ {task.fields.get('estimate', 0):.0f} s "
                    f"({task.fields.get('source', '')})")


@contextmanager
def _watching_sigint() -> Iterator[list[bool]]:
    """Remember that Ctrl-C arrived while preparing.

    Python turns SIGINT into ``KeyboardInterrupt``, but a library running native code at that
    moment may turn it into its own error instead (DuckDB raises ``RuntimeError: Query
    interrupted``). The flag lets the caller treat such an error as the interrupt it was.
    """
    fired = [False]
    previous = signal.getsignal(signal.SIGINT)

    def remember(signum: int, frame: object) -> None:
        fired[0] = True
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, remember)
    try:
        yield fired
    finally:
        signal.signal(signal.SIGINT, previous)


def _report_interrupt(current: str | None) -> None:
    errors.print(f"interrupted while preparing {current or 'the default models'}: its training "
                 "stopped and nothing unfinished was saved as a model; the models finished "
                 "before are kept. Run `shopintent models prepare` again to continue.")


def _selected(only: list[DefaultModelName] | None, skip: list[DefaultModelName] | None,
              fast_only: bool) -> list[str]:
    """The models to prepare, in catalogue order (the fast ones first)."""
    from shopintent.prepare import catalogue

    wanted = {m.value for m in only or []}
    unwanted = {m.value for m in skip or []}
    chosen = [n for n in catalogue.names() if n in wanted] if wanted else catalogue.names(fast_only)
    return [n for n in chosen if n not in unwanted]


@app.command("prepare")
def prepare(
    fast_only: bool = typer.Option(False, "--fast-only",
                                   help="Only the models the service needs to answer every endpoint."),
    background: bool = typer.Option(
        False, "--background",
        help="Prepare the fast models here, then the others in a detached process (log in the "
        "state folder); the service picks each up when it is ready."),
    only: list[DefaultModelName] = typer.Option(
        None, "--only", help="Only this model (repeatable); see `models status`."),
    skip: list[DefaultModelName] = typer.Option(None, "--skip", help="Not this model (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
    background_job: bool = typer.Option(False, "--background-job", hidden=True,
                                        help="Set by --background for the detached process."),
) -> None:
    """Train and cache every default model the service loads, skipping those already prepared."""
    from shopintent.datasets.base import ChecksumMismatch, DataFileMissing, RowCountMismatch
    from shopintent.prepare import catalogue, runner

    settings = get_settings()
    if background_job:
        os.nice(10)  # the demo's service shares these cores: it goes first
    names = _selected(only, skip, fast_only)
    here = [n for n in names if catalogue.get(n).fast] if background else names
    later = [n for n in names if n not in here]
    expected = runner.estimates(settings, here)
    quiet = as_json or not console.is_terminal
    if not as_json:
        total = sum(seconds for seconds, _ in expected.values())
        console.print(f"Preparing {len(here)} default model(s) in {settings.state_dir}: "
                      f"≈ {total:.0f} s here in all (estimates: measured here when this folder "
                      "trained them before, else first-run estimates from a 2-core machine)")
    results: list[runner.PrepareResult] = []
    current = None
    progress = Progress(description_column(), _EstimateBar(), _EstimateText(), console=console,
                        disable=quiet)
    interrupted = [False]
    try:
        with _watching_sigint() as interrupted, progress:
            tasks = {name: progress.add_task(name, total=1, start=False, estimate=expected[name][0],
                                             source=expected[name][1]) for name in here}
            for name in here:
                current = name
                if quiet and not as_json:
                    console.print(f"{name}: preparing (≈ {expected[name][0]:.0f} s, "
                                  f"{expected[name][1]})")
                progress.start_task(tasks[name])
                result = runner.prepare_one(settings, name)
                results.append(result)
                note = f"; {result.note}" if result.note else ""
                progress.update(tasks[name], completed=1,
                                result=f"{result.outcome} in {result.seconds:.0f} s{note}")
                if quiet and not as_json:
                    console.print(f"{name}: {result.outcome} in {result.seconds:.1f} s{note}")
            current = None
    except (DataFileMissing, ChecksumMismatch, RowCountMismatch) as exc:
        errors.print(f"cannot prepare {current}: its training data is not usable: {exc} "
                     "(`shopintent datasets verify` checks every data set)")
        raise typer.Exit(code=1) from None
    except Exception:
        if not interrupted[0]:
            raise
        _report_interrupt(current)
        raise typer.Exit(code=130) from None
    except KeyboardInterrupt:
        _report_interrupt(current)
        raise typer.Exit(code=130) from None
    finally:
        if background_job:
            runner.finish_background(settings)
    job = runner.start_background(settings, later) if later else None
    if as_json:
        print_json({"state_dir": str(settings.state_dir),
                    "prepared": [r.as_dict() for r in results],
                    "background": None if job is None else {"pid": job.pid, "log": str(job.log_path),
                                                            "models": list(job.names)}})
        return
    if job is not None:
        console.print(f"Preparing {', '.join(job.names)} in the background (pid {job.pid}, low "
                      f"priority; log {job.log_path}). The service loads each when it is ready; "
                      f"`shopintent models status` shows where it stands.")


@app.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Each default model: present or missing, kind, version, validation score, last preparation time."""
    from shopintent.prepare import catalogue, runner, timings

    settings = get_settings()
    durations = timings.read_durations(settings.state_dir)
    rows = []
    for name in catalogue.names():
        row = catalogue.status(settings, name).as_dict()
        last = durations.get(name)
        row["prepared_in_s"] = last.get("seconds") if last else None
        rows.append(row)
    job = runner.background_job(settings)
    background = None if job is None else {"pid": job.pid, "log": str(job.log_path),
                                           "models": list(job.names)}
    if as_json:
        print_json({"state_dir": str(settings.state_dir), "models": rows, "background": background})
        return
    out = Table(title=f"Default models in {settings.state_dir}", title_justify="left",
                box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("model", "state", "kind", "validation", "took", "version"):
        out.add_column(column, no_wrap=column != "validation")
    for r in rows:
        out.add_row(r["name"] + ("" if r["fast"] else " *"), r["state"], r["kind"] or "-",
                    r["score"] or "-",
                    "-" if r["prepared_in_s"] is None else f"{r['prepared_in_s']:.0f} s",
                    r["version"] or "-")
    console.print(out)
    console.print("* not needed to serve: prepared after the others, or in the background "
                  "(`models prepare --background`); the service picks each up when it appears. "
                  "validation: the purchase model's ROC-AUC, the recommender's NDCG@10, "
                  "classifier accuracy, tagger entity F1, each on its trainer's validation rows.")
    if any(r["state"] in ("missing", "incomplete") for r in rows):
        console.print("Missing models: run `shopintent models prepare`.")
    for r in rows:
        if r["state"] == "damaged":
            errors.print(f"{r['name']}: {r['detail']}")
    if job is not None:
        console.print(f"background preparation running: pid {job.pid}, {', '.join(job.names)}; "
                      f"log {job.log_path}")
