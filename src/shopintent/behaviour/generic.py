"""Bring your own log: train and evaluate the event-level models on any canonical event file.

A shop's file (CSV with header, Parquet or JSON lines; columns ``user_id,
item_id, event_type, timestamp`` and optionally ``session_id, category_id,
price``) is read by the store's reader, validated row by row (bad rows are
counted and named, never silently dropped) and sessionised by the store's
pipeline (the file's own ``session_id`` boundaries are kept). Training fits
on every session of the file, validating by time inside ``fit``;
:func:`evaluate_file` scores another file (typically a later period) and
returns the held-out metrics and the early-prediction curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shopintent.behaviour.event_models import TASKS, EventIntentModel
from shopintent.schema.validation import ValidationReport, validate_events
from shopintent.store import sessionise_frame
from shopintent.store.ingest import read_event_file

#: CLI spellings of the tasks.
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


@dataclass
class EventFile:
    """A validated, sessionised event file and the validation report of its rows."""

    events: pd.DataFrame
    report: ValidationReport

    def summary(self) -> dict[str, Any]:
        return {**self.report.summary(), "sessions": int(self.events["session_id"].nunique()),
                "users": int(self.events["user_id"].nunique())}


def read_sessions(path: Path, gap_minutes: float = 30.0) -> EventFile:
    """Read, validate and sessionise an event file."""
    report = validate_events(read_event_file(Path(path)))
    if report.n_valid == 0:
        shown = "; ".join(str(r) for r in report.rejections[:5])
        raise ValueError(f"{path}: no valid events among {report.n_input} row(s). {shown}")
    return EventFile(events=sessionise_frame(report.valid, gap_minutes), report=report)


def train_file(path: Path, task: str, out: Path, gap_minutes: float = 30.0,
               horizon_hours: float = 24.0, next_window: int = 3, utc_offset_hours: float = 0.0,
               random_state: int = 0) -> tuple[EventIntentModel, dict[str, Any]]:
    """Fit an :class:`EventIntentModel` for ``task`` on the file and save it to ``out``."""
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
    data = read_sessions(path, gap_minutes)
    model = EventIntentModel(task=task, horizon_hours=horizon_hours, next_window=next_window,
                             utc_offset_hours=utc_offset_hours, gap_minutes=gap_minutes,
                             random_state=random_state)
    model.fit(data.events)
    model.save(out, metrics={"validation": model.validation_,
                             "validation_protocol": "latest 15 % of training prefixes by time"})
    return model, {"input": data.summary(), "task": task, "model": str(out),
                   "train_examples": model.n_train_, "trees": model.best_iterations_,
                   "thresholds": model.thresholds_, "validation": model.validation_}


def evaluate_file(model_dir: Path, path: Path) -> dict[str, Any]:
    """Score an event file with a saved model: metrics per label and the early-prediction curve."""
    model = EventIntentModel.load(model_dir)
    data = read_sessions(path, model.gap_minutes)
    table = model.prefix_table(data.events)
    result = model.evaluate(table)
    return {"input": data.summary(), "task": model.task, "model": str(model_dir), **result}
