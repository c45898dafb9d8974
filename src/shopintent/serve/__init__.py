"""The real-time service: HTTP API, event streams, live session state and the dashboard.

``create_app(settings)`` builds the FastAPI application; ``shopintent serve``
runs it under uvicorn. Every write goes through the one ingest path
(:func:`shopintent.store.ingest.ingest_events`) on a single writer thread, so
the embedded DuckDB store is never touched by two threads at once. Models come
from the library packages through small adapters (``serve.adapters``) that
answer 503 with a reason while a model is not available, never made-up numbers.
"""

from shopintent.serve.app import create_app
from shopintent.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
