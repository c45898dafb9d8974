"""Entry point of the ``shopintent`` command: wires the area sub-apps together."""

from __future__ import annotations

import typer

from shopintent import __version__
from shopintent.cli import (
    behaviour,
    bench,
    datasets,
    demo,
    intent,
    intervene,
    models,
    recommend,
    report,
    risk,
    serve,
    store,
)
from shopintent.log import configure_logging
from shopintent.settings import get_settings

app = typer.Typer(
    name="shopintent",
    help="Understand, predict and act on what e-commerce shoppers want.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # Help and usage errors as plain text: help strings hold user-facing examples such as
    # `{item_id: [attribute, …]}` that rich markup would swallow, and plain errors never wrap.
    rich_markup_mode=None,
)
# In the order a newcomer meets them; `shopintent --help` and the README list them so.
app.command("demo")(demo.run)
app.command("bench")(bench.run)
app.add_typer(datasets.app, name="datasets")
app.add_typer(store.app, name="store")
app.add_typer(models.app, name="models")
app.add_typer(serve.app, name="serve")
app.add_typer(intent.app, name="intent")
app.add_typer(behaviour.app, name="behaviour")
app.add_typer(recommend.app, name="recommend")
app.add_typer(intervene.app, name="intervene")
app.add_typer(risk.app, name="risk")
app.add_typer(report.app, name="report")


@app.callback()
def _configure() -> None:
    """Configure logging once from settings before any command runs."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)


@app.command()
def version() -> None:
    """Print the installed shopintent version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
