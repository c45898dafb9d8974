"""Which service features this checkout has, so a measurement that needs a missing one says so.

The serve benchmark measures what exists: a run against a checkout without
``--workers`` (or ``serve sink``, ``--stream file``/``kafka``, ``?wait=store``)
raises :class:`FeatureMissing` naming the feature, instead of measuring
something else under that feature's name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache

import httpx


class FeatureMissing(RuntimeError):
    """A measurement needs a service feature this checkout does not have."""

    def __init__(self, feature: str, measurement: str) -> None:
        super().__init__(f"{measurement} needs {feature}, which this checkout does not have")
        self.feature = feature
        self.measurement = measurement


@cache
def serve_help(subcommand: str = "") -> str:
    """``shopintent serve [SUBCOMMAND] --help`` of this checkout ("" when the subcommand is unknown)."""
    command = [sys.executable, "-m", "shopintent.cli.main", "serve", *([subcommand] if subcommand else []),
               "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"})
    return done.stdout if done.returncode == 0 else ""


def require_option(option: str, measurement: str, value: str | None = None) -> None:
    """Raise :class:`FeatureMissing` unless ``shopintent serve`` has ``option`` (and ``value`` among its
    choices, when given)."""
    text = serve_help()
    if option not in text:
        raise FeatureMissing(f"`shopintent serve {option}`", measurement)
    if value is not None:
        line = next((ln for ln in text.splitlines() if option in ln), "")
        if value not in line:
            raise FeatureMissing(f"`shopintent serve {option} {value}`", measurement)


def require_sink(measurement: str) -> None:
    """Raise :class:`FeatureMissing` unless ``shopintent serve sink`` exists."""
    if "sink" not in serve_help("sink"):
        raise FeatureMissing("`shopintent serve sink`", measurement)


def has_wait_store(url: str) -> bool:
    """Whether the running service's ``POST /v1/events`` takes ``?wait=store`` (from its OpenAPI)."""
    spec = httpx.get(url + "/openapi.json", timeout=10).json()
    parameters = spec["paths"]["/v1/events"]["post"].get("parameters", [])
    return any(p.get("name") == "wait" for p in parameters)
