"""EnsembleClassifier: several text classifiers vote with their calibrated log-probabilities.

Why: the models make different mistakes — character n-grams catch exact
surface words, a fine-tuned encoder catches paraphrase, a second backbone
sees other sub-words — so averaging their calibrated log-probabilities is
more accurate than any one of them (measured on CLINC150 in BENCHMARKS.md).
The ensemble then gets its own temperature and out-of-scope threshold on the
validation rows, like every other text model.

Members must not have learnt from the validation rows (the ensemble's
calibration would be fooled), so an :class:`IntentClassifier` member is fitted
with ``refit=False``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import log_softmax

from shopintent.log import get_logger
from shopintent.persist import MODEL_FILE, ModelFileError, begin_save, peek_kind
from shopintent.text.intent import OOS, IntentClassifier, NotFittedError, prepare_fit_data
from shopintent.text.rejection import RETRAIN, RejectingClassifier

log = get_logger(__name__)

FORMAT_VERSION = 1


def load_text_classifier(path: Path | str, cache_dir: Path | None = None) -> RejectingClassifier:
    """Load any saved text classifier (linear, fine-tuned or ensemble) by the kind in its ``model.json``.

    The fine-tuned class is imported only for a fine-tuned folder: a service serving the linear
    model then never imports torch (seconds of its start).
    """
    directory = Path(path)
    # the kind only picks the class; that class's load verifies the manifest before reading anything
    kind = peek_kind(directory, RETRAIN)
    if kind == "IntentClassifier":
        return IntentClassifier.load(directory, cache_dir=cache_dir)
    if kind == "FineTunedClassifier":
        from shopintent.text.finetune import FineTunedClassifier

        return FineTunedClassifier.load(directory)
    if kind == "EnsembleClassifier":
        return EnsembleClassifier.load(directory, cache_dir=cache_dir)
    raise ModelFileError(directory, MODEL_FILE, f"holds an unknown model kind {kind!r}",
                         "give the directory of a saved text model")


class EnsembleClassifier(RejectingClassifier):
    """Mean of the members' calibrated log-probabilities, re-calibrated, with OOS rejection.

    Parameters
    ----------
    members:
        Unfitted text classifiers (anything with ``fit`` and ``predict_proba``
        over the same labels); fitted in order on the same rows.
    weights:
        Weight of each member's log-probabilities (``None``: equal).
    prefit:
        Members are already fitted (on rows other than the validation rows):
        ``fit`` only calibrates the ensemble, like scikit-learn's ``cv="prefit"``.
    oos_label, oos_weight, oos_recall_target, validation_fraction, random_state:
        As in :class:`~shopintent.text.intent.IntentClassifier`.

    Examples
    --------
    >>> from shopintent.samples import clinc_slice
    >>> data = clinc_slice()
    >>> members = [IntentClassifier(encoders=(), tfidf_max_features=5000, head=head) for head in ("svm", "logreg")]
    >>> ensemble = EnsembleClassifier(members).fit(*data.train, *data.validation)
    >>> ensemble.predict(["is my bank account frozen", "what is the meaning of life"])
    ['account_blocked', 'oos']
    """

    _not_params = ("members",)  # members record their own parameters in their folders

    def __init__(
        self,
        members: Sequence[RejectingClassifier],
        weights: Sequence[float] | None = None,
        prefit: bool = False,
        oos_label: str = OOS,
        oos_weight: float = 1.0,
        oos_recall_target: float | None = None,
        validation_fraction: float = 0.1,
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.weights = weights
        self.prefit = prefit
        self.oos_label = oos_label
        self.oos_weight = oos_weight
        self.oos_recall_target = oos_recall_target
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        valid_texts: Sequence[str] | None = None,
        valid_labels: Sequence[str] | None = None,
    ) -> EnsembleClassifier:
        """Fit every member on train (calibrated on validation), then the ensemble's calibration."""
        self._check_members()
        texts, labels, valid_texts, valid_labels, self.validation_source_ = prepare_fit_data(
            texts, labels, valid_texts, valid_labels, self.validation_fraction, self.random_state
        )
        self.classes_ = np.array(sorted(set(labels)))
        started = time.perf_counter()
        for member in self.members:
            if not self.prefit:
                if isinstance(member, IntentClassifier):
                    member.set_params(refit=False)
                member.fit(texts, labels, valid_texts, valid_labels)
            elif getattr(member, "refit", False):
                raise ValueError(
                    "a prefit IntentClassifier member was refit on its validation rows (refit=True); "
                    "fit it with refit=False so the ensemble's calibration rows stay unseen"
                )
            if list(member.classes_) != list(self.classes_):
                raise ValueError("ensemble members disagree on the classes; fit them on the same labels")
        self.metrics_ = self._calibrate(self.decision_function(valid_texts), valid_labels, valid_texts)
        self.metrics_["train_seconds"] = time.perf_counter() - started
        self.n_train_ = len(texts)
        log.info(
            "ensemble fitted",
            members=len(self.members),
            **{k: round(v, 4) for k, v in self.metrics_.items() if isinstance(v, float)},
        )
        return self

    def _check_members(self) -> None:
        """Checked at ``fit`` (not ``__init__``, which only stores parameters, as scikit-learn asks)."""
        if not self.members:
            raise ValueError("an ensemble needs at least one member")
        if self.weights is not None and len(self.weights) != len(self.members):
            raise ValueError(
                f"{len(self.weights)} weights for {len(self.members)} members; give one each"
            )

    def decision_function(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """Weighted mean of the members' calibrated log-probabilities (the ensemble's logits)."""
        if not hasattr(self, "classes_"):
            raise NotFittedError("EnsembleClassifier is not fitted: call fit(...) or load(path)")
        texts = list(texts)
        weights = list(self.weights) if self.weights is not None else [1.0] * len(self.members)
        total = np.zeros((len(texts), len(self.classes_)), dtype=np.float64)
        for weight, member in zip(weights, self.members, strict=True):
            proba = member.predict_proba(texts, persist=persist)
            total += weight * np.log(np.clip(proba, 1e-12, 1.0))
        return log_softmax(total / sum(weights), axis=1)

    def save(self, path: Path | str) -> Path:
        """Write each member to ``member_<i>/``, then the ensemble's ``model.json`` and a manifest of all."""
        if not hasattr(self, "classes_"):
            raise NotFittedError("EnsembleClassifier is not fitted: nothing to save")
        directory = begin_save(path)
        for i, member in enumerate(self.members):
            member.save(directory / f"member_{i}")  # type: ignore[attr-defined]
        self._finish_save(
            directory, "EnsembleClassifier", FORMAT_VERSION, members=len(self.members)
        )
        return directory

    @classmethod
    def load(cls, path: Path | str, cache_dir: Path | None = None) -> EnsembleClassifier:
        """Read an ensemble written by :meth:`save` (its manifest, and each member's, verified first)."""
        directory = Path(path)
        meta = cls._read_model_json(directory, "EnsembleClassifier", FORMAT_VERSION)
        members = [
            load_text_classifier(directory / f"member_{i}", cache_dir) for i in range(meta["members"])
        ]
        model = cls(members, **meta["parameters"])
        model._restore_record(meta)
        return model
