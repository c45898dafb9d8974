"""Text features for linear heads: frozen sentence embeddings beside TF-IDF character n-grams.

Why both: a multilingual sentence encoder knows paraphrases ("get my money
back" ~ "refund") and carries across languages; character n-grams know the
exact surface words a shop's own intents hinge on (order numbers, product
names, Chinese words without segmentation). Concatenated, a linear head gets
both and beats either alone (measured in ``docs/text.md``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from shopintent.persist import load_arrays, save_arrays
from shopintent.text.clean import clean_text
from shopintent.text.intent_scoring import SERVING_VARIANTS, check_variants, embed_texts


def _tfidf(max_features: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 4),
        lowercase=True,
        sublinear_tf=True,
        min_df=2,
        max_features=max_features,
        dtype=np.float32,
    )


__all__ = ["SERVING_VARIANTS", "TextFeaturizer"]


class TextFeaturizer:
    """Maps texts to ``[w * embedding(encoder_1), …, tfidf_char_ngrams]`` as one sparse matrix.

    ``encoders`` may be empty (TF-IDF only) and ``tfidf_max_features=0`` turns
    TF-IDF off (embeddings only).
    """

    def __init__(
        self,
        encoders: Sequence[str] = ("use",),
        encoder_weight: float = 1.0,
        tfidf_max_features: int = 200_000,
        cache_dir: Path | None = None,
    ) -> None:
        self.encoders = tuple(encoders)
        self.encoder_weight = encoder_weight
        self.tfidf_max_features = tfidf_max_features
        self.cache_dir = cache_dir
        self.tfidf_: TfidfVectorizer | None = None

    def params(self) -> dict[str, Any]:
        """The hyper-parameters that define the features (saved with a model)."""
        return {
            "encoders": list(self.encoders),
            "encoder_weight": self.encoder_weight,
            "tfidf_max_features": self.tfidf_max_features,
        }

    def serve_with(self, replacements: dict[str, str]) -> tuple[str, ...]:
        """Embed with another encoder of the same vectors' space where the fitted features name one
        (``{"use": "use-int8"}``: the int8 ONNX run of the same USE); the encoders now used.

        Why: a serving process may trade a little precision for speed without retraining; the
        accuracy with each encoder is measured side by side (``benchmarks/intent_profile.py``).
        Only same-network variants are allowed, since the head's weights are kept.
        """
        check_variants(replacements)
        self.encoders = tuple(replacements.get(name, name) for name in self.encoders)
        return self.encoders

    def fit(self, texts: Sequence[str]) -> TextFeaturizer:
        """Learn the TF-IDF vocabulary (the encoders are frozen)."""
        if self.tfidf_max_features > 0:
            cleaned = [clean_text(t) for t in texts]
            vectorizer = _tfidf(self.tfidf_max_features)
            try:
                vectorizer.fit(cleaned)
            except ValueError:  # fewer than min_df documents share any n-gram
                vectorizer.set_params(min_df=1)
                vectorizer.fit(cleaned)
            self.tfidf_ = vectorizer
        return self

    def embed(self, texts: Sequence[str], persist: bool = True) -> np.ndarray:
        """The concatenated (weighted) encoder embeddings of ``texts``."""
        cleaned = [clean_text(t) for t in texts]
        return embed_texts(self.encoders, self.encoder_weight, self.cache_dir, cleaned, persist)

    def tfidf(self, cleaned: Sequence[str]) -> sp.csr_matrix | None:
        """TF-IDF rows of already-cleaned texts, as sklearn computes them but without its per-call checks.

        sklearn's ``transform`` spends more time validating than computing on
        one short query; this does the same arithmetic (sublinear tf × idf,
        L2-normalised) straight from the fitted vocabulary.
        """
        if self.tfidf_ is None:
            return None
        if not hasattr(self, "_analyzer"):
            self._analyzer = self.tfidf_.build_analyzer()
            self._vocabulary = self.tfidf_.vocabulary_
            self._idf = self.tfidf_.idf_.astype(np.float32)
        indptr, indices, values = [0], [], []
        for text in cleaned:
            counts: dict[int, int] = {}
            for gram in self._analyzer(text):
                j = self._vocabulary.get(gram)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            cols = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
            vals = (
                1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
            ) * self._idf[cols]
            norm = float(np.sqrt(np.dot(vals, vals)))
            if norm > 0:
                vals /= norm
            order = np.argsort(cols)
            indices.append(cols[order])
            values.append(vals[order].astype(np.float32))
            indptr.append(indptr[-1] + len(cols))
        n_features = len(self._idf)
        if not cleaned:
            return sp.csr_matrix((0, n_features), dtype=np.float32)
        return sp.csr_matrix(
            (np.concatenate(values), np.concatenate(indices), np.array(indptr)),
            shape=(len(cleaned), n_features),
        )

    def transform_parts(
        self, texts: Sequence[str], persist: bool = True
    ) -> tuple[np.ndarray, sp.csr_matrix | None]:
        """The dense (embedding) and sparse (TF-IDF) blocks separately: cheaper to score than one matrix."""
        cleaned = [clean_text(t) for t in texts]
        return self.embed(cleaned, persist=persist), self.tfidf(cleaned)

    def transform(self, texts: Sequence[str], persist: bool = True) -> sp.csr_matrix:
        """Features for ``texts`` (``persist=False`` keeps one-off queries out of the disk cache)."""
        parts: list[sp.spmatrix] = []
        dense, sparse = self.transform_parts(texts, persist=persist)
        if dense.shape[1]:
            parts.append(sp.csr_matrix(dense))
        if sparse is not None:
            parts.append(sparse)
        if not parts:
            raise ValueError(
                "TextFeaturizer has no features: give an encoder or tfidf_max_features > 0"
            )
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def save(self, directory: Path) -> None:
        """Write the TF-IDF vocabulary and idf weights (plain JSON + safetensors, no pickle)."""
        if self.tfidf_ is None:
            return
        vocabulary = {k: int(v) for k, v in self.tfidf_.vocabulary_.items()}
        (directory / "tfidf_vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False))
        save_arrays(
            directory / "tfidf_idf.safetensors", {"idf": self.tfidf_.idf_.astype(np.float64)}
        )

    @classmethod
    def load(
        cls, directory: Path, params: dict[str, Any], cache_dir: Path | None = None
    ) -> TextFeaturizer:
        """Rebuild a fitted featurizer from :meth:`save`'s files and its params."""
        featurizer = cls(
            encoders=params["encoders"],
            encoder_weight=params["encoder_weight"],
            tfidf_max_features=params["tfidf_max_features"],
            cache_dir=cache_dir,
        )
        vocab_file = directory / "tfidf_vocabulary.json"
        if vocab_file.is_file():
            vocabulary = json.loads(vocab_file.read_text())
            vectorizer = _tfidf(params["tfidf_max_features"]).set_params(
                vocabulary=vocabulary, min_df=1, max_features=None
            )
            # The idf_ setter validates the fixed vocabulary and sets vocabulary_, which is all a
            # fit on [""] did before it: that fit validated the 200k-entry vocabulary twice and
            # counted an empty document, ~0.05 CPU seconds of every service start (same rows,
            # tests/text/test_features_load.py).
            vectorizer.idf_ = load_arrays(directory / "tfidf_idf.safetensors")["idf"]
            featurizer.tfidf_ = vectorizer
        return featurizer
