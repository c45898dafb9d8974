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
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from shopintent.log import get_logger
from shopintent.persist import begin_save, load_arrays, save_arrays
from shopintent.text.calibration import calibrated_proba, fit_temperature
from shopintent.text.features import TextFeaturizer
from shopintent.text.language import LANGUAGES, detect_language, language_counts
from shopintent.text.rejection import RejectingClassifier

log = get_logger(__name__)

#: 2: weights in safetensors and a manifest (1 wrote NumPy files).
FORMAT_VERSION = 2
OOS = "oos"
#: The head's C values tried on validation rows when ``C=None`` (log-spaced, a decade either side of 1).
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
#: Training rows a language needs before the model counts it as seen (:func:`language_counts`).
MIN_LANGUAGE_ROWS = 10


__all__ = ["C_GRID", "OOS", "IntentClassifier", "NotFittedError", "data_checksum", "prepare_fit_data"]


def _known_targets(classes: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(known, targets)``: which ``labels`` are among ``classes``, and each one's class index (-1 if not)."""
    index = {c: i for i, c in enumerate(classes)}
    known = np.array([label in index for label in labels], dtype=bool)
    targets = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    return known, targets


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
        Inverse regularisation of the head; ``None``: chosen on the validation rows from
        ``C_GRID``, together with whether the TF-IDF block is used at all (with and without it,
        when there is an encoder), by validation accuracy, ties broken by the calibrated
        validation log-loss. The choice is in ``selection_`` and ``metrics_``.
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
    route_unseen_languages:
        When a language (``zh`` or ``en``) has fewer than ``MIN_LANGUAGE_ROWS`` training rows,
        texts in it are scored by a second head over the encoder embeddings alone (its own C
        and temperature, chosen on validation like the main head's): TF-IDF n-grams learnt
        from English carry nothing to Chinese, the multilingual encoder does. Which languages
        the model was trained on is recorded (``training_languages_``, saved in ``model.json``).
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
        route_unseen_languages: bool = True,
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
        self.route_unseen_languages = route_unseen_languages
        self.random_state = random_state
        self.cache_dir = cache_dir

    # -- parameters -------------------------------------------------------------------------
    def _uses_tfidf(self) -> bool:
        """Whether the fitted (or about to be fitted) features include the TF-IDF block."""
        return bool(getattr(self, "tfidf_used_", self.tfidf_max_features > 0))

    def _new_featurizer(self) -> TextFeaturizer:
        return TextFeaturizer(
            tuple(self.encoders),
            self.encoder_weight,
            self.tfidf_max_features if self._uses_tfidf() else 0,
            self.cache_dir,
        )

    def _new_head(self, C: float):  # type: ignore[no-untyped-def]
        if self.head == "svm":
            return LinearSVC(C=C, random_state=self.random_state, max_iter=5000)
        if self.head == "logreg":
            return LogisticRegression(C=C, max_iter=2000, random_state=self.random_state)
        raise ValueError(f"head {self.head!r} is not one of 'svm', 'logreg'")

    def _fit_head(
        self, features: object, labels: list[str], C: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(classes, coef, intercept)`` of a head fitted on ``features``; always one logit column per class."""
        head = self._new_head(C)
        head.fit(features, labels)
        coef = np.asarray(head.coef_, dtype=np.float32)
        intercept = np.asarray(head.intercept_, dtype=np.float32)
        if len(head.classes_) == 2:  # binary heads keep one row; make it a two-column logit
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        return np.array([str(c) for c in head.classes_]), coef, intercept

    # -- training ---------------------------------------------------------------------------
    def _fit_once(self, texts: list[str], labels: list[str]) -> None:
        self.featurizer_ = self._new_featurizer().fit(texts)
        dense, sparse = self.featurizer_.transform_parts(texts)
        blocks = ([sp.csr_matrix(dense)] if dense.shape[1] else []) + ([sparse] if sparse is not None else [])
        if not blocks:
            raise ValueError("IntentClassifier has no features: give an encoder or tfidf_max_features > 0")
        features = sp.hstack(blocks, format="csr", dtype=np.float32)
        self.classes_, self.coef_, self.intercept_ = self._fit_head(features, labels, self.C_)
        self.encoder_coef_: np.ndarray | None = None
        self.encoder_intercept_: np.ndarray | None = None
        if self.encoder_route_:
            classes, self.encoder_coef_, self.encoder_intercept_ = self._fit_head(
                dense, labels, self.encoder_C_
            )
            if list(classes) != list(self.classes_):  # same labels, same sort: cannot differ
                raise RuntimeError("encoder-only head learnt other classes than the main head")

    def _candidate_score(
        self, logits: np.ndarray, classes: np.ndarray, valid_labels: list[str], valid_texts: list[str]
    ) -> tuple[float, float]:
        """``(validation accuracy, calibrated log-loss)`` of one candidate head's validation logits.

        The accuracy is the full decision's (temperature and OOS threshold fitted as the final
        model will fit them), so a candidate that rejects validation rows wrongly pays for it.
        """
        self.classes_ = classes
        metrics = self._calibrate(logits, valid_labels, valid_texts)
        known, targets = _known_targets(classes, valid_labels)
        proba = calibrated_proba(logits[known], self.temperature_)
        targets = targets[known]
        picked = np.clip(proba[np.arange(len(targets)), targets], 1e-12, None)
        log_loss = float(-np.log(picked).mean()) if len(targets) else 0.0  # only unknown labels: accuracy decides
        return float(metrics["validation_accuracy"]), log_loss

    def _select(
        self,
        texts: list[str],
        labels: list[str],
        valid_texts: list[str],
        valid_labels: list[str],
    ) -> dict[str, object]:
        """Choose C (and TF-IDF on/off) on validation rows; also the encoder-only head's C.

        Embeddings come from the encoder's cache and the TF-IDF vocabulary is fitted once,
        so the grid costs one linear-head fit per candidate (seconds on a few thousand rows).
        Only the training rows are fitted on and only the validation rows scored: test rows
        never reach this choice.
        """
        featurizer = TextFeaturizer(
            tuple(self.encoders), self.encoder_weight, self.tfidf_max_features, self.cache_dir
        ).fit(texts)
        dense, sparse = featurizer.transform_parts(texts)
        valid_dense, valid_sparse = featurizer.transform_parts(valid_texts)
        options: list[bool] = []
        if sparse is not None:
            options.append(True)
        if dense.shape[1]:
            options.append(False)
        grid: list[dict[str, object]] = []
        def joined(embedded: np.ndarray, ngrams: sp.csr_matrix | None) -> object:
            if ngrams is None:
                return embedded
            if not embedded.shape[1]:
                return ngrams
            return sp.hstack([sp.csr_matrix(embedded), ngrams], format="csr")

        for with_tfidf in options:
            train_x = joined(dense, sparse if with_tfidf else None)
            valid_x = joined(valid_dense, valid_sparse if with_tfidf else None)
            for C in C_GRID:
                classes, coef, intercept = self._fit_head(train_x, labels, C)
                logits = np.asarray(valid_x @ coef.T) + intercept
                accuracy, log_loss = self._candidate_score(logits, classes, valid_labels, valid_texts)
                grid.append({"C": C, "tfidf": with_tfidf, "validation_accuracy": accuracy,
                             "validation_log_loss": log_loss})

        def key(row: dict[str, object]) -> tuple[float, float]:
            return (-float(row["validation_accuracy"]), float(row["validation_log_loss"]))  # type: ignore[arg-type]

        best = min(grid, key=key)
        encoder_rows = [row for row in grid if not row["tfidf"]]
        return {
            "C": float(best["C"]),  # type: ignore[arg-type]
            "tfidf": bool(best["tfidf"]),
            "encoder_C": float(min(encoder_rows, key=key)["C"]) if encoder_rows else float(best["C"]),  # type: ignore[arg-type]
            "grid": grid,
        }

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
        for attribute in ("C_", "tfidf_used_", "encoder_C_"):
            self.__dict__.pop(attribute, None)
        if self.C is None:
            self.selection_: dict[str, object] | None = self._select(texts, labels, valid_texts, valid_labels)
            self.C_ = float(self.selection_["C"])  # type: ignore[arg-type]
            self.tfidf_used_ = bool(self.selection_["tfidf"])
            self.encoder_C_ = float(self.selection_["encoder_C"])  # type: ignore[arg-type]
        else:
            self.selection_ = None
            self.C_ = self.encoder_C_ = float(self.C)
            self.tfidf_used_ = self.tfidf_max_features > 0
        learnt_from = texts + valid_texts if self.refit else texts
        self.training_languages_ = language_counts(learnt_from)
        self.encoder_route_ = self._unseen_languages()
        self._fit_once(texts, labels)
        if self.encoder_route_:
            self.encoder_temperature_ = self._encoder_temperature(valid_texts, valid_labels)
        self.__dict__.pop("temperature_", None)  # a candidate's, from the grid; routed rows unscaled until refitted
        self.metrics_ = self._calibrate(self.decision_function(valid_texts), valid_labels, valid_texts)
        self.metrics_.update(self._choice_record())
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

    def _unseen_languages(self) -> tuple[str, ...]:
        """Languages with too few training rows, whose texts the encoder-only head scores.

        Empty when routing is off, when there is no encoder to route to, or when the main head
        has no TF-IDF block (it is then encoder-only already).
        """
        if not (self.route_unseen_languages and self.encoders and self._uses_tfidf()):
            return ()
        return tuple(
            language for language in LANGUAGES
            if self.training_languages_.get(language, 0) < MIN_LANGUAGE_ROWS
        )

    def _encoder_temperature(self, valid_texts: list[str], valid_labels: list[str]) -> float:
        """Temperature of the encoder-only head, fitted on the validation rows (every language)."""
        dense = self.featurizer_.embed(valid_texts)
        logits = dense @ self.encoder_coef_.T + self.encoder_intercept_  # type: ignore[union-attr]
        known, targets = _known_targets(self.classes_, valid_labels)
        return float(fit_temperature(logits[known], targets[known]))

    def _choice_record(self) -> dict[str, object]:
        """What ``metrics_`` (and the CLI's summary) says about the chosen head and the language routing."""
        return {
            "C": self.C_,
            "tfidf": "on" if self._uses_tfidf() else "off",
            "C_chosen_on": "validation" if self.C is None else "given",
            "training_languages": dict(self.training_languages_),
            "encoder_only_languages": list(self.encoder_route_),
        }

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
            logits = logits + np.asarray(sparse @ self._sparse_weights(width))
        routed = self.routed_rows(texts)
        if routed.size:
            # scaled so that the shared temperature gives the encoder head its own calibration
            scale = self.temperature_ / self.encoder_temperature_ if hasattr(self, "temperature_") else 1.0
            logits[routed] = (dense[routed] @ self.encoder_coef_.T + self.encoder_intercept_) * scale  # type: ignore[union-attr]
        return logits

    def _sparse_weights(self, width: int) -> np.ndarray:
        """The TF-IDF block of the head, transposed and C-contiguous, built once per ``coef_``.

        Why: ``sparse @ coef_[:, width:].T`` hands scipy a strided view, which it copies
        into a contiguous array on every call (the whole (n-grams x classes) block,
        ~2.5 ms CPU per batch, more than the head's arithmetic); the copy made once
        holds the same values, so the logits are bit-identical.
        """
        cached = getattr(self, "_sparse_weights_cache", None)
        if cached is None or cached[0] is not self.coef_ or cached[1] != width:
            cached = (self.coef_, width, np.ascontiguousarray(self.coef_[:, width:].T))
            self._sparse_weights_cache = cached
        return cached[2]

    def routed_rows(self, texts: Sequence[str]) -> np.ndarray:
        """Indices of ``texts`` in a language the model was not trained on (scored by the encoder-only head)."""
        if not getattr(self, "encoder_route_", ()) or getattr(self, "encoder_coef_", None) is None:
            return np.zeros(0, dtype=np.int64)
        return np.array(
            [i for i, text in enumerate(texts) if detect_language(text) in self.encoder_route_],
            dtype=np.int64,
        )

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        """Write the head and TF-IDF weights (safetensors + JSON), ``model.json`` and the manifest."""
        self._check_fitted()
        directory = begin_save(path)
        arrays = {"coef": self.coef_, "intercept": self.intercept_}
        if self.encoder_coef_ is not None:
            arrays |= {"encoder_coef": self.encoder_coef_, "encoder_intercept": self.encoder_intercept_}
        save_arrays(directory / "head.safetensors", arrays)
        self.featurizer_.save(directory)
        self._finish_save(
            directory,
            "IntentClassifier",
            FORMAT_VERSION,
            data_checksum=self.data_checksum_,
            head={
                "C": self.C_,
                "tfidf": self._uses_tfidf(),
                "encoder_C": self.encoder_C_,
                "selection": self.selection_,
            },
            languages={
                "training_rows": self.training_languages_,
                "encoder_only": list(self.encoder_route_),
                "encoder_temperature": getattr(self, "encoder_temperature_", None),
            },
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
        model.encoder_coef_ = weights.get("encoder_coef")
        model.encoder_intercept_ = weights.get("encoder_intercept")
        model._restore_record(meta)
        model.data_checksum_ = meta["data_checksum"]
        # models saved before the head choice and language record: their fixed C, TF-IDF as configured
        head = meta.get("head") or {}
        model.C_ = float(head.get("C", model.C if model.C is not None else 1.0))
        model.encoder_C_ = float(head.get("encoder_C", model.C_))
        model.tfidf_used_ = bool(head.get("tfidf", model.tfidf_max_features > 0))
        model.selection_ = head.get("selection")
        languages = meta.get("languages") or {}
        model.training_languages_ = dict(languages.get("training_rows", {}))
        model.encoder_route_ = tuple(languages.get("encoder_only", ()))
        if languages.get("encoder_temperature") is not None:
            model.encoder_temperature_ = float(languages["encoder_temperature"])
        model.featurizer_ = TextFeaturizer.load(
            directory, model._new_featurizer().params(), cache_dir
        )
        return model
