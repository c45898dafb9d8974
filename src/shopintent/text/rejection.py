"""Calibrated confidence and out-of-scope rejection, shared by every text classifier.

Why one place: the linear model, the fine-tuned transformer and the ensemble
all turn raw class scores into a decision the same way — one temperature
fitted on validation logits, a rejection threshold chosen on validation rows
only, and ``oos`` with its confidence when a text is rejected. A subclass
supplies ``decision_function`` (logits in ``classes_`` order) and calls
:meth:`RejectingClassifier._calibrate` once on validation data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sklearn.base import BaseEstimator, ClassifierMixin

from shopintent.metrics import expected_calibration_error
from shopintent.persist import read_model_json, write_manifest, write_model_json
from shopintent.text.calibration import (
    ECE_BINS,
    calibrated_proba,
    choose_rejection_threshold,
    fit_temperature,
)
from shopintent.text.rejection_rule import RejectionRule

#: The command quoted when a saved text model is refused (see :mod:`shopintent.persist`).
RETRAIN = "shopintent intent train"


class RejectingClassifier(RejectionRule, ClassifierMixin, BaseEstimator):
    """Base: temperature-calibrated probabilities, threshold rejection, ``(label, confidence)``.

    A scikit-learn classifier (``get_params``/``set_params``/``clone``,
    ``score`` = accuracy of :meth:`predict`, ``oos`` counting as a label).
    """

    classes_: np.ndarray
    oos_label: str
    oos_weight: float
    #: OOS recall the validation-chosen threshold must reach (``None``: maximise accuracy + weight × recall).
    oos_recall_target: float | None = None
    temperature_: float
    threshold_: float

    #: ``__init__`` arguments that are not hyper-parameters (not recorded in ``model.json``).
    _not_params: tuple[str, ...] = ()

    def _saved_params(self) -> dict[str, Any]:
        """The hyper-parameters ``model.json`` records: ``get_params`` less ``_not_params``."""
        return {k: v for k, v in self.get_params(deep=False).items() if k not in self._not_params}

    def decision_function(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """Raw class scores, one column per class in ``classes_`` (subclasses implement)."""
        raise NotImplementedError

    def _calibrate(
        self, logits: np.ndarray, valid_labels: Sequence[str], valid_texts: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Fit temperature and rejection threshold on validation logits; return validation metrics.

        With the validation texts, accuracy is also recorded per language
        (``validation_accuracy_by_language``): a model choice between two
        candidates weighs zh and en equally (:func:`selection_score`), however
        many rows each language has.
        """
        index = {c: i for i, c in enumerate(self.classes_)}
        valid_arr = np.array(list(valid_labels))
        known = np.array([label in index for label in valid_arr])
        targets = np.array([index.get(label, -1) for label in valid_arr])
        self.temperature_ = fit_temperature(logits[known], targets[known])
        proba = calibrated_proba(logits, self.temperature_)
        top = proba.argmax(axis=1)
        is_oos = valid_arr == self.oos_label
        self.threshold_, threshold_scores = choose_rejection_threshold(
            proba.max(axis=1),
            self.classes_[top] == valid_arr,
            is_oos,
            self.oos_weight,
            rejected_anyway=self.classes_[top] == self.oos_label,
            recall_target=getattr(self, "oos_recall_target", None),
        )
        predicted = np.array(self._decide(proba))
        return {
            "validation_rows": len(valid_arr),
            "validation_accuracy": float((predicted == valid_arr).mean()),
            "validation_accuracy_by_language": (
                {} if valid_texts is None else accuracy_by_language(valid_texts, predicted, valid_arr)
            ),
            "validation_ece": expected_calibration_error(top == targets, proba.max(axis=1), n_bins=ECE_BINS),
            "temperature": self.temperature_,
            "threshold": self.threshold_,
            **threshold_scores,
        }

    # -- model.json: what every saved text classifier records -------------------------------------
    def _finish_save(
        self, directory: Path, kind: str, format_version: int, **extra: Any
    ) -> None:
        """Write ``model.json`` (kind, versions, parameters, classes, calibration, training record,
        ``extra``), then the manifest: the last two files of every text classifier's save."""
        write_model_json(
            directory,
            kind,
            format_version,
            self._saved_params(),
            classes=[str(c) for c in self.classes_],
            temperature=self.temperature_,
            threshold=self.threshold_,
            n_train=self.n_train_,  # type: ignore[attr-defined]
            validation=self.validation_source_,  # type: ignore[attr-defined]
            metrics=self.metrics_,  # type: ignore[attr-defined]
            **extra,
        )
        write_manifest(directory)

    @staticmethod
    def _read_model_json(directory: Path, kind: str, format_version: int) -> dict[str, Any]:
        """``model.json`` of a saved ``kind`` model, read after its manifest is verified."""
        return read_model_json(directory, kind, format_version, retrain=RETRAIN)

    def _restore_record(self, meta: dict[str, Any]) -> None:
        """Set classes, calibration and training record from a ``model.json``."""
        self.classes_ = np.array(meta["classes"])
        self.temperature_ = float(meta["temperature"])
        self.threshold_ = float(meta["threshold"])
        self.n_train_ = meta["n_train"]
        self.validation_source_ = meta["validation"]
        self.metrics_ = meta["metrics"]

    def predict_proba(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """Calibrated class probabilities, columns in ``classes_`` order."""
        return calibrated_proba(self.decision_function(texts, persist=persist), self.temperature_)


def accuracy_by_language(
    texts: Sequence[str], predicted: np.ndarray, expected: np.ndarray
) -> dict[str, float]:
    """Accuracy of ``predicted`` against ``expected`` for the zh rows and the en rows of ``texts``."""
    from shopintent.text.language import detect_language

    languages = np.array([detect_language(str(t)) for t in texts])
    return {
        language: float((predicted[languages == language] == expected[languages == language]).mean())
        for language in ("zh", "en")
        if (languages == language).any()
    }


def selection_score(metrics: dict[str, Any]) -> float | None:
    """The score two saved candidates are compared by: the mean of the zh and en validation
    accuracies, so the language with fewer rows counts as much as the other (the plain
    validation accuracy, for a model saved without the per-language record)."""
    by_language = metrics.get("validation_accuracy_by_language") or {}
    if by_language:
        return float(np.mean([float(v) for v in by_language.values()]))
    value = metrics.get("validation_accuracy")
    return float(value) if isinstance(value, int | float) else None
