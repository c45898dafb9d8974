"""Body of ``/readyz``: what a load balancer or an operator needs, nothing a caller could use."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelReadiness(BaseModel):
    """One model: whether the service needs it and how its loading stands (no paths, reasons)."""

    needed: bool = Field(description="The service waits for it (every model, unless started "
                         "with --no-models).")
    ready: bool
    state: Literal["ready", "loading", "unavailable", "off"] = Field(
        description="loading: not tried yet or being loaded; unavailable: the last load failed "
        "and is retried (the reason is in the service log); off: not loaded by choice.")
    version: str | None = Field(description="The loaded model's version; null until loaded.")


class Readiness(BaseModel):
    """200 with ``status: ready`` when every part and needed model is up, else 503."""

    status: Literal["ready", "not ready"]
    store: bool | None = Field(description="The store thread owns an open event store (null: "
                               "this worker has none; the sink process owns it).")
    stream: bool = Field(description="The request path's event log writer runs.")
    sink: bool | None = Field(None, description="The store sink (the log consumer) runs (null: it "
                              "runs in another process).")
    log_pending: int = Field(0, description="Event log messages not yet stored by the sink.")
    history: bool = Field(description="Shopper histories were restored from the store.")
    models: dict[str, ModelReadiness]
    waiting_for: list[str] = Field(description="Needed models not loaded yet.")
