"""A saved linear :class:`~shopintent.text.intent.IntentClassifier`, loaded for scoring only.

Why: the service answers ``/v1/intent`` with the default linear model, an
estimator built on scikit-learn (its TF-IDF vectoriser, its heads, SciPy's sparse
matrices). Importing them costs about a CPU second of every service start, while
scoring needs only the saved numbers: the TF-IDF vocabulary and idf weights, the
head's coefficients, the temperature and the rejection threshold.
:class:`IntentScorer` reads the same folder and computes the same arithmetic in
NumPy: sklearn's ``char_wb`` analyser (:func:`char_wb_ngrams`), sublinear tf × idf,
L2 norm, the head's dot products in the order SciPy's CSR product takes them, and
the temperature softmax written as SciPy writes it. Same probabilities and labels
as the estimator (``tests/text/test_intent_scoring.py``, on the real shop-intent texts).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.persist import load_arrays, read_model_json
from shopintent.text.clean import clean_text
from shopintent.text.encoders import CachedEncoder, get_encoder
from shopintent.text.language import detect_language
from shopintent.text.rejection_rule import RejectionRule

KIND = "IntentClassifier"
FORMAT_VERSION = 2
RETRAIN = "shopintent intent train"
#: Encoders that compute (nearly) the same vectors as a fitted one: what ``serve_with`` may swap in.
SERVING_VARIANTS = {"use": "use-int8"}
#: The n-gram sizes of the fitted TF-IDF (``text.features._tfidf``: ``analyzer="char_wb"``, 1-4).
NGRAM_RANGE = (1, 4)
_WHITE_SPACES = re.compile(r"\s\s+")


def char_wb_ngrams(text: str, ngram_range: tuple[int, int] = NGRAM_RANGE) -> list[str]:
    """scikit-learn's ``char_wb`` analyser with ``lowercase=True``: the same n-grams, in order.

    Lower-cased, runs of white space made one space, each word padded with a space on
    either side, then its n-grams for each ``n``; a word shorter than ``n`` counts once.
    """
    text = _WHITE_SPACES.sub(" ", text.lower())
    min_n, max_n = ngram_range
    ngrams: list[str] = []
    append = ngrams.append
    for word in text.split():
        word = " " + word + " "
        length = len(word)
        for n in range(min_n, max_n + 1):
            offset = 0
            append(word[offset: offset + n])
            while offset + n < length:
                offset += 1
                append(word[offset: offset + n])
            if offset == 0:
                break
    return ngrams


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax, the operations of ``scipy.special.softmax(x, axis=1)`` in their order."""
    shifted = np.exp(x - np.amax(x, axis=1, keepdims=True))
    return shifted / np.sum(shifted, axis=1, keepdims=True)


def embed_texts(encoders: Sequence[str], weight: float, cache_dir: Path | None, cleaned: Sequence[str],
                persist: bool = True) -> np.ndarray:
    """The concatenated, weighted encoder embeddings of already-cleaned texts (float32)."""
    blocks = []
    for name in encoders:
        encoder = get_encoder(name, cache_dir)
        if isinstance(encoder, CachedEncoder):
            blocks.append(encoder.encode(cleaned, persist=persist))
        else:
            blocks.append(encoder.encode(cleaned))
    if not blocks:
        return np.zeros((len(cleaned), 0), dtype=np.float32)
    return weight * np.hstack(blocks).astype(np.float32)


def check_variants(replacements: dict[str, str]) -> None:
    """Refuse an encoder swap that is not a same-network variant (the head's weights are kept)."""
    for old, new in replacements.items():
        if SERVING_VARIANTS.get(old) != new:
            raise ValueError(f"encoder {old!r} cannot be served as {new!r}; "
                             f"variants: {', '.join(f'{a}→{b}' for a, b in SERVING_VARIANTS.items())}")


class CharTfidf:
    """The fitted character n-gram TF-IDF: each text's (columns, values), as ``TextFeaturizer.tfidf``."""

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.idf = np.asarray(idf).astype(np.float32)

    @classmethod
    def load(cls, directory: Path) -> CharTfidf | None:
        """From ``tfidf_vocabulary.json`` + ``tfidf_idf.safetensors``; None when the model has no TF-IDF."""
        vocab_file = directory / "tfidf_vocabulary.json"
        if not vocab_file.is_file():
            return None
        return cls(json.loads(vocab_file.read_text()), load_arrays(directory / "tfidf_idf.safetensors")["idf"])

    def row(self, cleaned: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted column indices and L2-normalised sublinear-tf × idf values (float32) of one text."""
        counts: dict[int, int] = {}
        for gram in char_wb_ngrams(cleaned):
            j = self.vocabulary.get(gram)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        cols = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
        vals = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))) * self.idf[cols]
        norm = float(np.sqrt(np.dot(vals, vals)))
        if norm > 0:
            vals /= norm
        order = np.argsort(cols)
        return cols[order], vals[order].astype(np.float32)

    def dot(self, cleaned: Sequence[str], weights: np.ndarray) -> np.ndarray:
        """``tfidf(cleaned) @ weights`` summed in the order SciPy's CSR product sums (bit-identical).

        SciPy adds ``value × weights[column]`` to the row one entry after another; NumPy's sum
        over axis 0 of those products (a C-contiguous block) adds row after row the same way.
        """
        out = np.zeros((len(cleaned), weights.shape[1]), dtype=np.result_type(np.float32, weights.dtype))
        for r, text in enumerate(cleaned):
            cols, vals = self.row(text)
            if len(cols):
                out[r] = (vals.astype(out.dtype)[:, None] * weights[cols]).sum(axis=0)
        return out


class ServedFeatures:
    """The encoders' block of a fitted ``TextFeaturizer`` (and its TF-IDF), for scoring."""

    def __init__(self, encoders: Sequence[str], encoder_weight: float, cache_dir: Path | None,
                 tfidf: CharTfidf | None) -> None:
        self.encoders = tuple(encoders)
        self.encoder_weight = encoder_weight
        self.cache_dir = cache_dir
        self.tfidf = tfidf

    def serve_with(self, replacements: dict[str, str]) -> tuple[str, ...]:
        """As ``TextFeaturizer.serve_with``: embed with a same-network variant (``use`` → ``use-int8``)."""
        check_variants(replacements)
        self.encoders = tuple(replacements.get(name, name) for name in self.encoders)
        return self.encoders

    def embed(self, cleaned: Sequence[str], persist: bool = True) -> np.ndarray:
        """The encoder embeddings of already-cleaned texts."""
        return embed_texts(self.encoders, self.encoder_weight, self.cache_dir, cleaned, persist)


class IntentScorer(RejectionRule):
    """What the service runs of a saved ``IntentClassifier``: probabilities, labels, confidence.

    Attributes as the estimator's after ``load``: ``classes_``, ``temperature_``, ``threshold_``,
    ``oos_label``, ``encoders``, ``metrics_``, ``coef_``/``intercept_`` (and the encoder-only head
    for languages the model was not trained on), ``featurizer_`` (:class:`ServedFeatures`).
    """

    #: The estimator this is a loaded form of (the service's model id and card name it).
    estimator_name = KIND

    def __init__(self, directory: Path, meta: dict[str, Any], cache_dir: Path | None = None) -> None:
        params = meta["parameters"]
        self.encoders = tuple(params["encoders"])
        self.oos_label = str(params.get("oos_label", "oos"))
        self.classes_ = np.array(meta["classes"])
        self.temperature_ = float(meta["temperature"])
        self.threshold_ = float(meta["threshold"])
        self.n_train_ = meta["n_train"]
        self.metrics_ = meta["metrics"]
        self.data_checksum_ = meta["data_checksum"]
        weights = load_arrays(directory / "head.safetensors")
        self.coef_, self.intercept_ = weights["coef"], weights["intercept"]
        self.encoder_coef_ = weights.get("encoder_coef")
        self.encoder_intercept_ = weights.get("encoder_intercept")
        languages = meta.get("languages") or {}
        self.encoder_route_ = tuple(languages.get("encoder_only", ()))
        self.encoder_temperature_ = (None if languages.get("encoder_temperature") is None
                                     else float(languages["encoder_temperature"]))
        self.featurizer_ = ServedFeatures(self.encoders, float(params["encoder_weight"]), cache_dir,
                                          CharTfidf.load(directory))
        width = self.coef_.shape[1] - (0 if self.featurizer_.tfidf is None else len(self.featurizer_.tfidf.idf))
        self._dense_coef_t = self.coef_[:, :width].T
        self._sparse_weights = np.ascontiguousarray(self.coef_[:, width:].T)

    @classmethod
    def load(cls, path: Path | str, cache_dir: Path | None = None) -> IntentScorer:
        """Read a folder written by ``IntentClassifier.save`` (its manifest verified first)."""
        directory = Path(path)
        return cls(directory, read_model_json(directory, KIND, FORMAT_VERSION, retrain=RETRAIN), cache_dir)

    def routed_rows(self, texts: Sequence[str]) -> np.ndarray:
        """Indices of ``texts`` in a language the model was not trained on (the encoder-only head's)."""
        if not self.encoder_route_ or self.encoder_coef_ is None:
            return np.zeros(0, dtype=np.int64)
        return np.array([i for i, text in enumerate(texts) if detect_language(text) in self.encoder_route_],
                        dtype=np.int64)

    def decision_function(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """Raw head scores, one column per class in ``classes_`` (the estimator's, bit for bit)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        cleaned = [clean_text(t) for t in texts]
        dense = self.featurizer_.embed(cleaned, persist=persist)
        logits = dense @ self._dense_coef_t + self.intercept_
        if self.featurizer_.tfidf is not None:
            logits = logits + self.featurizer_.tfidf.dot(cleaned, self._sparse_weights)
        routed = self.routed_rows(texts)
        if routed.size:
            scale = self.temperature_ / self.encoder_temperature_ if self.encoder_temperature_ else 1.0
            logits[routed] = (dense[routed] @ self.encoder_coef_.T + self.encoder_intercept_) * scale
        return logits

    def predict_proba(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """Calibrated class probabilities, columns in ``classes_`` order."""
        return softmax(np.asarray(self.decision_function(texts, persist=persist), dtype=np.float64)
                       / self.temperature_)
