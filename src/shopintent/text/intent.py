"""IntentClassifier: frozen encoder + TF-IDF features, a linear head, calibrated confidence, OOS rejection.

Why this shape: on two CPU cores a frozen multilingual encoder with a linear
head trains in seconds, works for Chinese and English alike, and — once its
temperature is fitted on validation data — gives confidences a shop can act
on. Out-of-scope queries are rejected when the calibrated confidence is below
a threshold chosen on validation rows only (and when rows labelled ``oos``
exist in training, ``oos`` is also a class the head learns).

The same estimator classifies anything with text and a label (sentiment, a
shop's own intents): with no ``oos`` rows in validation it never rejects.
A runnable example on real data is in :class:`IntentClassifier`'s docstring.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from shopintent.log import get_logger
from shopintent.persist import begin_save, load_arrays, save_arrays
from shopintent.text.features import TextFeaturizer
from shopintent.text.rejection import RejectingClassifier

log = get_logger(__name__)

#: 2: weights in safetensors and a manifest (1 wrote NumPy files).
FORMAT_VERSION = 2
OOS = "oos"


__all__ = ["OOS", "IntentClassifier", "NotFittedError", "data_checksum", "prepare_fit_data"]


def data_checksum(texts: Sequence[str], labels: Sequence[str]) -> str:
    """SHA-256 over ``text\\tlabel`` lines: which data a model saw."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{text}\t{label}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _check_inputs(
    texts: Sequence[str], labels: Sequence[str], what: str
) -> tuple[list[str], list[str]]:
    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels):
        raise ValueError(
            f"{what}: {len(texts)} texts but {len(labels)} labels; give one label per text"
        )
    for row, (text, label) in enumerate(zip(texts, labels, strict=True)):
        if not isinstance(text, str):
            raise TypeError(f"{what} row {row}: text {text!r} is not a string")
        if (
            label is None
            or (isinstance(label, float) and np.isnan(label))
            or str(label).strip() == ""
        ):
            raise ValueError(f"{what} row {row}: label is empty; label every row or drop it")
    return texts, [str(label) for label in labels]


def prepare_fit_data(
    texts: Sequence[str],
    labels: Sequence[str],
    valid_texts: Sequence[str] | None,
    valid_labels: Sequence[str] | None,
    validation_fraction: float,
    random_state: int,
) -> tuple[list[str], list[str], list[str], list[str], str]:
    """Checked train and validation rows, and where the validation rows came from.

    Without a validation set, ``validation_fraction`` of the training rows
    (stratified when every label has two rows, seeded) is held out.
    """
    texts, labels = _check_inputs(texts, labels, "training data")
    if len(set(labels)) < 2:
        raise ValueError(f"training data has {len(set(labels))} distinct label(s); need at least 2")
    if valid_texts is None:
        if valid_labels is not None:
            raise ValueError("valid_labels given without valid_texts; give both or neither")
        stratify = labels if min(Counter(labels).values()) >= 2 else None
        texts, valid_texts, labels, valid_labels = train_test_split(
            texts,
            labels,
            test_size=validation_fraction,
            random_state=random_state,
            stratify=stratify,
        )
        source = f"{validation_fraction:.0%} of training rows, seed {random_state}"
    else:
        source = "given validation set"
    if valid_labels is None:
        raise ValueError("valid_texts given without valid_labels; give both or neither")
    valid_texts, valid_labels = _check_inputs(valid_texts, valid_labels, "validation data")
    return list(texts), list(labels), valid_texts, valid_labels, source


class IntentClassifier(RejectingClassifier):
    """Text classifier with calibrated confidence and out-of-scope rejection.

    Parameters
    ----------
    encoders:
        Frozen encoders whose embeddings are features (``use``, ``e5``,
        ``minilm``); empty for TF-IDF only.
    encoder_weight:
        Scale of the (unit-norm) embeddings against the TF-IDF block.
    tfidf_max_features:
        Size of the character n-gram vocabulary; 0 turns TF-IDF off.
    head:
        ``svm`` (linear SVM, one-vs-rest) or ``logreg`` (multinomial logistic regression).
    C:
        Inverse regularisation of the head.
    oos_label:
        The label that means out-of-scope in training/validation data and predictions.
    oos_weight:
        How much OOS recall counts against in-scope accuracy when choosing the threshold.
    oos_recall_target:
        Instead, the validation OOS recall the threshold must reach (best in-scope accuracy among those).
    validation_fraction:
        Share of the training rows held out (stratified) when no validation set is given.
    refit:
        After temperature and threshold are chosen on validation, refit the
        features and head on train + validation (the official CLINC protocol).
    random_state:
        Seed of the validation split and the head.
    cache_dir:
        State folder whose embedding cache the encoders use (not a hyper-parameter; not saved).

    Examples
    --------
    TF-IDF only (no encoder download) on eight CLINC150 intents and ``oos``:

    >>> from shopintent.samples import clinc_slice
    >>> data = clinc_slice()
    >>> clf = IntentClassifier(encoders=(), tfidf_max_features=5000).fit(*data.train, *data.validation)
    >>> clf.predict(["is my bank account frozen", "what is the meaning of life"])
    ['account_blocked', 'oos']
    >>> clf.score(*data.test) > 0.9
    True
    """

    _not_params = ("cache_dir",)  # where the embedding cache lives is not a hyper-parameter

    def __init__(
        self,
        encoders: Sequence[str] = ("use",),
        encoder_weight: float = 1.0,
        tfidf_max_features: int = 200_000,
        head: str = "svm",
        C: float = 1.0,
        oos_label: str = OOS,
        oos_weight: float = 1.0,
        oos_recall_target: float | None = None,
        validation_fraction: float = 0.1,
        refit: bool = True,
        random_state: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        self.encoders = encoders
        self.encoder_weight = encoder_weight
        self.tfidf_max_features = tfidf_max_features
        self.head = head
        self.C = C
        self.oos_label = oos_label
        self.oos_weight = oos_weight
        self.oos_recall_target = oos_recall_target
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.random_state = random_state
        self.cache_dir = cache_dir

    # -- parameters -------------------------------------------------------------------------
    def _new_featurizer(self) -> TextFeaturizer:
        return TextFeaturizer(
            tuple(self.encoders), self.encoder_weight, self.tfidf_max_features, self.cache_dir
        )

    def _new_head(self):  # type: ignore[no-untyped-def]
        if self.head == "svm":
            return LinearSVC(C=self.C, random_state=self.random_state, max_iter=5000)
        if self.head == "logreg":
            return LogisticRegression(C=self.C, max_iter=2000, random_state=self.random_state)
        raise ValueError(f"head {self.head!r} is not one of 'svm', 'logreg'")

    # -- training ---------------------------------------------------------------------------
    def _fit_once(self, texts: list[str], labels: list[str]) -> None:
        self.featurizer_ = self._new_featurizer().fit(texts)
        features = self.featurizer_.transform(texts)
        head = self._new_head()
        head.fit(features, labels)
        coef = np.asarray(head.coef_, dtype=np.float32)
        intercept = np.asarray(head.intercept_, dtype=np.float32)
        if len(head.classes_) == 2:  # binary heads keep one row; make it a two-column logit
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        self.classes_ = np.array([str(c) for c in head.classes_])
        self.coef_ = coef
        self.intercept_ = intercept

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        valid_texts: Sequence[str] | None = None,
        valid_labels: Sequence[str] | None = None,
    ) -> IntentClassifier:
        """Learn features and head on train, calibration and rejection on validation; return self.

        Without a validation set, ``validation_fraction`` of the training rows
        (stratified, seeded) is held out for calibration.
        """
        texts, labels, valid_texts, valid_labels, self.validation_source_ = prepare_fit_data(
            texts, labels, valid_texts, valid_labels, self.validation_fraction, self.random_state
        )
        self._fit_once(texts, labels)
        self.metrics_ = self._calibrate(self.decision_function(valid_texts), valid_labels, valid_texts)
        self.n_train_ = len(texts) + (len(valid_texts) if self.refit else 0)
        if self.refit:
            self._fit_once(texts + valid_texts, labels + valid_labels)
            self.data_checksum_ = data_checksum(texts + valid_texts, labels + valid_labels)
        else:
            self.data_checksum_ = data_checksum(texts, labels)
        log.info(
            "intent classifier fitted",
            classes=len(self.classes_),
            rows=self.n_train_,
            **{k: round(v, 4) for k, v in self.metrics_.items() if isinstance(v, float)},
        )
        return self

    # -- inference --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                "IntentClassifier is not fitted: call fit(...) or IntentClassifier.load(path)"
            )

    def decision_function(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """Raw head scores, one column per class in ``classes_``."""
        self._check_fitted()
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        dense, sparse = self.featurizer_.transform_parts(texts, persist=persist)
        width = dense.shape[1]
        logits = dense @ self.coef_[:, :width].T + self.intercept_
        if sparse is not None:
            logits = logits + np.asarray(sparse @ self.coef_[:, width:].T)
        return logits

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        """Write the head and TF-IDF weights (safetensors + JSON), ``model.json`` and the manifest."""
        self._check_fitted()
        directory = begin_save(path)
        save_arrays(
            directory / "head.safetensors", {"coef": self.coef_, "intercept": self.intercept_}
        )
        self.featurizer_.save(directory)
        self._finish_save(
            directory, "IntentClassifier", FORMAT_VERSION, data_checksum=self.data_checksum_
        )
        return directory

    @classmethod
    def load(cls, path: Path | str, cache_dir: Path | None = None) -> IntentClassifier:
        """Read a model written by :meth:`save` (its manifest verified first)."""
        directory = Path(path)
        meta = cls._read_model_json(directory, "IntentClassifier", FORMAT_VERSION)
        params = meta["parameters"]
        model = cls(**{**params, "encoders": tuple(params["encoders"])}, cache_dir=cache_dir)
        weights = load_arrays(directory / "head.safetensors")
        model.coef_ = weights["coef"]
        model.intercept_ = weights["intercept"]
        model._restore_record(meta)
        model.data_checksum_ = meta["data_checksum"]
        model.featurizer_ = TextFeaturizer.load(
            directory, model._new_featurizer().params(), cache_dir
        )
        return model
