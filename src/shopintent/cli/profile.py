"""``shopintent profile …``: build shopper profiles from the event store and show one."""

from __future__ import annotations

from pathlib import Path

import typer

from shopintent.cli.output import console, errors, print_json, step_progress, table
from shopintent.persist import ModelFileError
from shopintent.profile.build import ProfileNotFound, ProfilesMissing, build_profiles, profile_dir, profile_of
from shopintent.settings import get_settings
from shopintent.store import EventStore

app = typer.Typer(help="Shopper profiles (segment, interests, price band, recency, purchase / churn).",
                  no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
STORE_OPTION = typer.Option(None, "--store", help="DuckDB file (default: SHOPINTENT_STATE_DIR/events.duckdb).")


def _fail(exc: Exception) -> typer.Exit:
    errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@app.command()
def build(
    store_path: Path | None = STORE_OPTION,
    segments: int = typer.Option(5, "--segments", min=2, help="Number of K-means shopper segments."),
    horizon_days: float = typer.Option(1.0, "--horizon-days", help="Horizon of the purchase / churn predictions."),
    seed: int = typer.Option(0, "--seed", help="Seed of K-means and the held-out split."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Profile every shopper in the store; writes SHOPINTENT_STATE_DIR/profile/."""
    settings = get_settings()
    path = store_path or settings.store_path
    if not Path(path).is_file():
        raise _fail(FileNotFoundError(f"{path}: no event store; ingest events first (`shopintent store ingest`)"))
    with step_progress(as_json) as progress:
        progress.add_task("profiling shoppers", total=None)
        try:
            with EventStore(path) as store:
                profiles = build_profiles(store, settings, k=segments, horizon_days=horizon_days, seed=seed)
        except ValueError as exc:
            raise _fail(exc) from exc
    sizes = profiles["segment"].value_counts().sort_index()
    summary = {"shoppers": len(profiles), "segments": {str(k): int(v) for k, v in sizes.items()},
               "mean_purchase_probability": float(profiles["purchase_probability"].mean()),
               "mean_churn_probability": float(profiles["churn_probability"].mean()),
               "folder": str(profile_dir(settings))}
    if as_json:
        print_json(summary)
        return
    console.print(f"{len(profiles):,} shoppers profiled into {summary['folder']}")
    console.print(table("segments", ["segment", "shoppers"], [[k, f"{v:,}"] for k, v in sizes.items()]))


@app.command()
def show(
    user_id: str = typer.Argument(..., help="The pseudonymous user id the store issued (u_…)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One shopper's profile."""
    try:
        record = profile_of(get_settings(), user_id)
    except (ProfilesMissing, ProfileNotFound, ModelFileError) as exc:
        raise _fail(exc) from exc
    if as_json:
        print_json(record)
        return
    console.print(table(f"profile {user_id}", ["field", "value"],
                        [[k, ", ".join(map(str, v)) if isinstance(v, list) else v] for k, v in record.items()]))
