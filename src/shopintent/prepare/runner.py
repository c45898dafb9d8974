"""Prepare default models in this process, or hand the slow ones to a detached background process.

Why a separate process for the slow ones: the fine-tuned intent model and the
sentiment model take minutes on 2 cores; ``make demo`` should not wait for
them. The background job runs ``shopintent models prepare --only …`` at low
CPU priority in its own session (a Ctrl-C in the demo's terminal does not
reach it), writes its output to a log in the state folder, and removes its
pid file when done. The service loads each model when its files appear.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shopintent.log import get_logger
from shopintent.prepare import catalogue, timings
from shopintent.settings import Settings

log = get_logger(__name__)

#: Pid file and log of the background job, relative to the state folder.
BACKGROUND_PID = "models-prepare.pid"
BACKGROUND_LOG = Path("logs") / "models-prepare.log"


@dataclass(frozen=True)
class PrepareResult:
    """One model prepared: what happened and how long it took."""

    name: str
    outcome: str
    seconds: float
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "outcome": self.outcome, "seconds": round(self.seconds, 1),
                "note": self.note}


def prepare_one(settings: Settings, name: str) -> PrepareResult:
    """Prepare one default model (train it unless cached and valid); a training's duration is kept."""
    model = catalogue.get(name)
    Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
    log.info("preparing default model", model=name)
    started = time.perf_counter()
    done = model.prepare(settings)
    seconds = time.perf_counter() - started
    if done.outcome == catalogue.TRAINED:
        timings.record_duration(settings.state_dir, name, seconds, done.outcome)
    log.info("default model prepared", model=name, outcome=done.outcome, seconds=round(seconds, 1))
    return PrepareResult(name, done.outcome, seconds, done.note)


def estimates(settings: Settings, names: Sequence[str]) -> dict[str, tuple[float, str]]:
    """Expected seconds (and their source) per model; a model already prepared costs ~nothing."""
    out = {}
    for name in names:
        model = catalogue.get(name)
        if model.is_prepared(settings) or model.first_run_s == 0.0:
            out[name] = (1.0, "cached")
        else:
            out[name] = timings.estimate(settings.state_dir, name, model.first_run_s)
    return out


# -- the background job ------------------------------------------------------------------------
@dataclass(frozen=True)
class BackgroundJob:
    """A detached ``models prepare`` process: its pid, log file and the models it prepares."""

    pid: int
    log_path: Path
    names: tuple[str, ...] = ()


def _pid_path(settings: Settings) -> Path:
    return Path(settings.state_dir) / BACKGROUND_PID


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def background_job(settings: Settings) -> BackgroundJob | None:
    """The background job of this state folder while it runs (a stale pid file is removed)."""
    path = _pid_path(settings)
    try:
        first, *rest = path.read_text(encoding="utf-8").split()
        pid = int(first)
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        path.unlink(missing_ok=True)
        return None
    return BackgroundJob(pid, Path(settings.state_dir) / BACKGROUND_LOG, tuple(rest))


def start_background(settings: Settings, names: Sequence[str]) -> BackgroundJob:
    """Start ``shopintent models prepare --only …`` detached (own session, low priority), or return
    the job already running for this state folder."""
    running = background_job(settings)
    if running is not None:
        return running
    log_path = Path(settings.state_dir) / BACKGROUND_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "shopintent.cli.main", "models", "prepare", "--background-job"]
    for name in names:
        command += ["--only", name]
    # The child reads the same folders whatever the caller's environment or .env said.
    env = {**os.environ, "SHOPINTENT_DATA_DIR": str(settings.data_dir),
           "SHOPINTENT_STATE_DIR": str(settings.state_dir)}
    with open(log_path, "ab") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                   env=env, start_new_session=True, close_fds=True)
    _pid_path(settings).write_text(f"{process.pid} {' '.join(names)}\n", encoding="utf-8")
    log.info("background model preparation started", pid=process.pid, models=list(names),
             log=str(log_path))
    return BackgroundJob(process.pid, log_path, tuple(names))


def finish_background(settings: Settings) -> None:
    """Called by the background job as it ends: remove the pid file if it is this process's."""
    path = _pid_path(settings)
    try:
        if int(path.read_text(encoding="utf-8").split()[0]) == os.getpid():
            path.unlink()
    except (OSError, ValueError, IndexError):
        pass
