"""The default behaviour models: trained once on the real Taobao log, cached in the state folder.

Why: the HTTP service and the demo need a working scorer on a fresh machine
without a training step of their own. :func:`load_default_scorer` trains the
purchase, abandonment and next-action models on every in-window Taobao event
(about a minute on one core) the first time, saves them under
``settings.state_dir/behaviour/default/`` and reloads them afterwards. Held-out
quality of this configuration is measured by ``shopintent bench behaviour``
(time split); the saved ``model.json`` files carry their own time-validation
metrics.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from shopintent.behaviour.event_scoring import TASKS, EventIntentScorer
from shopintent.behaviour.features import UserHistory
from shopintent.behaviour.scorer import SessionScorer
from shopintent.datasets import taobao_userbehavior_head as taobao
from shopintent.log import get_logger
from shopintent.persist import MODEL_FILE, LegacyModelError, has_manifest
from shopintent.settings import Settings
from shopintent.store import sessionise_frame

if TYPE_CHECKING:
    from shopintent.behaviour.event_models import EventIntentModel

log = get_logger(__name__)

#: Taobao timestamps are read in China time for the hour-of-day features.
TAOBAO_UTC_OFFSET_HOURS = 8.0


def default_model_dir(settings: Settings) -> Path:
    """Where the default models are cached."""
    return settings.state_dir / "behaviour" / "default"


def train_default_models(settings: Settings) -> dict[str, EventIntentModel]:
    """Train one :class:`EventIntentModel` per task on the whole Taobao log and save them."""
    from shopintent.behaviour.event_models import EventIntentModel

    events = sessionise_frame(taobao.load(settings).events, settings.session_gap_minutes)
    models = {}
    table = None
    for task in TASKS:
        model = EventIntentModel(task=task, utc_offset_hours=TAOBAO_UTC_OFFSET_HOURS,
                                 gap_minutes=settings.session_gap_minutes)
        table = table if table is not None else model.prefix_table(events)
        models[task] = model.fit_table(table)
        model.save(default_model_dir(settings) / task)
        log.info("default behaviour model trained", task=task, rows=model.n_train_)
    return models


def load_default_models(settings: Settings) -> dict[str, EventIntentModel]:
    """The cached default models, trained first if any is missing or saved by an older shopintent.

    A cached model without a manifest (an older format, or a save cut short)
    is re-trained; one whose files changed after the save is refused
    (:class:`~shopintent.persist.ModelFileError`).
    """
    from shopintent.behaviour.event_models import EventIntentModel

    root = default_model_dir(settings)
    if all(has_manifest(root / task) for task in TASKS):
        try:
            models = {task: EventIntentModel.load(root / task) for task in TASKS}
            for task, model in models.items():
                add_tree_arrays(root / task, model.labels)
            return models
        except LegacyModelError as exc:
            log.warning("default behaviour models in an old format: re-training", reason=str(exc))
    elif any((root / task / MODEL_FILE).is_file() for task in TASKS):
        log.warning("default behaviour models in an old format or unfinished: re-training",
                    path=str(root))
    if root.is_dir():
        shutil.rmtree(root)  # our own cache: nothing of an older format is left beside the new files
    return train_default_models(settings)


def add_tree_arrays(folder: Path, labels: tuple[str, ...]) -> bool:
    """Write the boosters' NumPy form into a folder saved before it existed (manifest rewritten).

    Same trees, so no re-training: the service then scores without LightGBM. True when written.
    """
    from shopintent.inference.trees import arrays_file, write_tree_arrays
    from shopintent.persist import write_manifest

    if all(arrays_file(folder / f"{label}.txt").is_file() for label in labels):
        return False
    for label in labels:
        write_tree_arrays(folder / f"{label}.txt")
    write_manifest(folder)
    log.info("boosters' NumPy form written beside a saved behaviour model", path=str(folder))
    return True


def load_serving_models(settings: Settings) -> dict[str, EventIntentScorer]:
    """The cached default models loaded for scoring only (what the service runs).

    :class:`~shopintent.behaviour.event_scoring.EventIntentScorer` answers as the models do
    without importing scikit-learn or LightGBM (unless a folder predates the boosters' NumPy
    form). Missing or old-format models are first handled as :func:`load_default_models` does.
    """
    root = default_model_dir(settings)
    if all(has_manifest(root / task) for task in TASKS):
        try:
            return {task: EventIntentScorer.load(root / task) for task in TASKS}
        except LegacyModelError:
            pass  # load_default_models says so and re-trains
    load_default_models(settings)
    return {task: EventIntentScorer.load(root / task) for task in TASKS}


def load_default_scorer(settings: Settings, history: UserHistory | None = None,
                        n_reasons: int = 3) -> SessionScorer:
    """A :class:`SessionScorer` over the default models, for one new session."""
    return SessionScorer(load_default_models(settings), history=history, n_reasons=n_reasons)
