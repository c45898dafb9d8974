"""Entry point of the ``shopintent`` command: wires the area sub-apps together.

Sub-apps are registered by name and module (:data:`SUB_APPS`) and imported only
when used (:mod:`shopintent.cli.lazy`): ``shopintent serve`` then imports the
service, not every area's libraries. To add an area, add its row to
:data:`SUB_APPS` where ``shopintent --help`` should list it.
"""

from __future__ import annotations

import typer

from shopintent import __version__
from shopintent.cli.lazy import lazy_group
from shopintent.log import configure_logging
from shopintent.settings import get_settings

#: Top-level commands (name, "module:function"), listed first.
COMMANDS = (
    ("demo", "shopintent.cli.demo:run"),
    ("bench", "shopintent.cli.bench:run"),
)
#: Sub-apps (name, "module:Typer app"), in the order a newcomer meets them; `shopintent --help`
#: and the README list them so.
SUB_APPS = (
    ("datasets", "shopintent.cli.datasets:app"),
    ("store", "shopintent.cli.store:app"),
    ("models", "shopintent.cli.models:app"),
    ("serve", "shopintent.cli.serve:app"),
    ("intent", "shopintent.cli.intent:app"),
    ("behaviour", "shopintent.cli.behaviour:app"),
    ("recommend", "shopintent.cli.recommend:app"),
    ("intervene", "shopintent.cli.intervene:app"),
    ("risk", "shopintent.cli.risk:app"),
    ("assist", "shopintent.cli.assist:app"),
    ("multimodal", "shopintent.cli.multimodal:app"),
    ("profile", "shopintent.cli.profile:app"),
    ("audit", "shopintent.cli.audit:app"),
    ("forecast", "shopintent.cli.forecast:app"),
    ("report", "shopintent.cli.report:app"),
)

app = typer.Typer(
    name="shopintent",
    help="Understand, predict and act on what e-commerce shoppers want.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # Help and usage errors as plain text: help strings hold user-facing examples such as
    # `{item_id: [attribute, …]}` that rich markup would swallow, and plain errors never wrap.
    rich_markup_mode=None,
    cls=lazy_group(COMMANDS, SUB_APPS),
)


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
