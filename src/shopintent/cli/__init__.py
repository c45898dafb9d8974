"""The ``shopintent`` command line: one Typer sub-app per area, each a thin wrapper."""
