"""Default models prepared before serving: the catalogue, measured times, the runner.

``shopintent models prepare`` trains what the service needs in its own
process; the service only loads (:func:`catalogue.not_prepared` says what is
missing). See ``README.md`` (Quick start) for the times measured here.
"""

from __future__ import annotations

from shopintent.prepare.catalogue import (
    DEFAULT_MODELS,
    PREPARE_COMMAND,
    SERVICE_NEEDS,
    DefaultModel,
    ModelStatus,
    not_prepared,
    status,
)
from shopintent.prepare.runner import (
    BackgroundJob,
    PrepareResult,
    background_job,
    prepare_one,
    start_background,
)

__all__ = [
    "DEFAULT_MODELS",
    "PREPARE_COMMAND",
    "SERVICE_NEEDS",
    "BackgroundJob",
    "DefaultModel",
    "ModelStatus",
    "PrepareResult",
    "background_job",
    "not_prepared",
    "prepare_one",
    "start_background",
    "status",
]
