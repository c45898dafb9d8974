"""How long preparing each default model took here, kept beside the models for honest estimates.

Why: a progress bar for a training run has no step count to show (the
trainers do not report batches), so it shows elapsed time against an
estimate. The estimate is the duration measured the last time this state
folder prepared the model, else the static first-run estimate the catalogue
documents (measured on a 2-core machine; see README.md).

>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> record_duration(folder, "shop_intent", 41.96, "trained")
>>> estimate(folder, "shop_intent", 60.0)
(42.0, 'measured here')
>>> estimate(folder, "recommend", 30.0)
(30.0, 'first-run estimate')
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopintent.log import get_logger

log = get_logger(__name__)

#: The file, in the state folder, that holds the last measured duration of each model's preparation.
TIMINGS_FILE = "models-prepare.json"


def timings_path(state_dir: Path) -> Path:
    """Where the measured preparation times of a state folder are kept."""
    return Path(state_dir) / TIMINGS_FILE


def read_durations(state_dir: Path) -> dict[str, dict[str, Any]]:
    """Model name → ``{"seconds", "outcome", "at", "cpus"}`` of its last preparation (empty if none)."""
    path = timings_path(state_dir)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        # a broken timing file only costs the estimate, never the preparation itself
        log.warning("unreadable preparation timings; using first-run estimates", path=str(path),
                    error=str(exc))
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def record_duration(state_dir: Path, name: str, seconds: float, outcome: str) -> None:
    """Remember how long ``name`` took to prepare (written atomically: another process may read it)."""
    durations = read_durations(state_dir)
    durations[name] = {"seconds": round(float(seconds), 1), "outcome": outcome,
                       "at": datetime.now(UTC).isoformat(timespec="seconds"),
                       "cpus": os.cpu_count()}
    path = timings_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".timings-", suffix=".json",
                                     delete=False, encoding="utf-8") as out:
        json.dump(durations, out, indent=2, sort_keys=True)
    os.replace(out.name, path)


def estimate(state_dir: Path, name: str, first_run_s: float) -> tuple[float, str]:
    """Seconds ``name`` is expected to take and where that number comes from.

    Only a measured *training* counts: a run that found the model cached took
    seconds and says nothing about training it again.
    """
    last = read_durations(state_dir).get(name)
    if last and last.get("outcome") == "trained" and isinstance(last.get("seconds"), int | float):
        return float(last["seconds"]), "measured here"
    return float(first_run_s), "first-run estimate"
