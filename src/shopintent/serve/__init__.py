"""The real-time service: HTTP API, event streams, live session state and the dashboard.

``create_app(settings)`` builds the FastAPI application; ``shopintent serve``
runs it under uvicorn. Every write goes through the one ingest path
(:func:`shopintent.store.ingest.ingest_events`) on a single writer thread, so
the embedded DuckDB store is never touched by two threads at once. Models come
from the library packages through small adapters (``serve.adapters``) that
answer 503 with a reason while a model is not available, never made-up numbers.

Both names are imported on first use (PEP 562): importing a submodule such as
``shopintent.serve.startup`` or ``shopintent.serve.config`` does not import the
app with every router and the libraries behind them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopintent.serve.app import create_app
    from shopintent.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from shopintent.serve.app import create_app

        return create_app
    if name == "ServeConfig":
        from shopintent.serve.config import ServeConfig

        return ServeConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
