"""A saved :class:`~shopintent.behaviour.event_models.EventIntentModel`, loaded for scoring only.

Why: the service scores sessions with the default event models on every event,
and ``EventIntentModel`` is a scikit-learn estimator over LightGBM boosters;
importing both costs about a CPU second of every service start, although
scoring needs neither. :class:`EventIntentScorer` reads the same saved folder
(``model.json`` and, per label, the booster's NumPy form ``<label>.trees.safetensors``
that ``EventIntentModel.save`` writes beside ``<label>.txt``) and predicts with
:class:`~shopintent.inference.trees.TreeArrays`: the same probabilities and path
attributions as the LightGBM boosters (``tests/behaviour/test_event_scoring.py``,
on real Taobao prefixes). A folder saved before the NumPy form existed is still
served, by LightGBM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopintent.behaviour.examples import NEXT_LABELS
from shopintent.behaviour.features import FEATURE_NAMES
from shopintent.behaviour.path_attribution import PathAttribution
from shopintent.behaviour.persist import read_model_json
from shopintent.inference.trees import load_booster

#: Task name → the labels its model predicts.
TASKS: dict[str, tuple[str, ...]] = {
    "purchase": ("y_purchase",),
    "abandon": ("y_abandon",),
    "next-action": NEXT_LABELS,
}
KIND = "event_intent"


def read_event_model_record(path: Path) -> dict[str, Any]:
    """``model.json`` of a saved event-intent folder (manifest verified), refused when the model
    was trained on another feature set; read by the scorer and by ``EventIntentModel.load``."""
    record = read_model_json(path, KIND)
    if record["features"] != list(FEATURE_NAMES):
        raise ValueError(f"{path}: the model was trained on another feature set; retrain it")
    return record


class EventIntentScorer:
    """The scoring half of an ``EventIntentModel``, read from its saved folder.

    Carries what scoring and the service's model card read: ``task``, ``labels``,
    ``utc_offset_hours``, ``parameters`` (the estimator's, as saved), ``boosters_``
    (label → :class:`~shopintent.inference.trees.TreeArrays`, or a LightGBM booster for
    an older save), ``thresholds_`` and ``n_train_`` (training rows per label, as saved).
    """

    #: The estimator this is a loaded form of (the service's model id names it).
    estimator_name = "EventIntentModel"

    def __init__(self, parameters: dict[str, Any], boosters: dict[str, Any],
                 thresholds: dict[str, float], n_train: Any) -> None:
        self.parameters = dict(parameters)
        self.task = str(parameters.get("task", "purchase"))
        self.utc_offset_hours = float(parameters.get("utc_offset_hours", 0.0))
        self.boosters_ = boosters
        self.thresholds_ = thresholds
        self.n_train_ = n_train
        self._explainers: dict[str, PathAttribution] = {}

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of the task, in the estimator's order."""
        if self.task not in TASKS:
            raise ValueError(f"task {self.task!r} is not one of {', '.join(TASKS)}")
        return TASKS[self.task]

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Probabilities, one column per label of the task (shape (n, n_labels))."""
        if isinstance(X, pd.DataFrame):
            X = X[list(FEATURE_NAMES)].to_numpy(dtype=float)
        return np.column_stack([self.boosters_[label].predict(X, num_threads=1) for label in self.labels])

    def explainer(self, label: str | None = None) -> PathAttribution:
        """The (cached) path-attribution explainer of one label's booster."""
        label = label or self.labels[0]
        if label not in self._explainers:
            self._explainers[label] = PathAttribution(self.boosters_[label])
        return self._explainers[label]

    @classmethod
    def load(cls, path: Path | str) -> EventIntentScorer:
        """Read a folder written by ``EventIntentModel.save`` (its manifest verified first)."""
        path = Path(path)
        record = read_event_model_record(path)
        parameters = record["parameters"]
        labels = TASKS.get(str(parameters.get("task")), ())
        return cls(parameters, {label: load_booster(path / f"{label}.txt") for label in labels},
                   {k: float(v) for k, v in record["thresholds"].items()}, record["n_train"])
