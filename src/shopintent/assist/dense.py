"""Frozen sentence encoders as question→answer scorers: cosine of the two embeddings.

Why: the no-training baselines of the protocol (USE-multilingual, e5-small,
MiniLM; see ``MODELS.md``). e5 is asymmetric by design: questions get its
``query:`` prefix and answers its ``passage:`` prefix; USE and MiniLM embed
both sides alike. Embeddings are cached on disk under the state folder
(``shopintent.text.encoders``), so the bench and a second model never encode a
text twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopintent.settings import Settings
from shopintent.text.encoders import (
    CachedEncoder, E5Encoder, EmbeddingCache, Encoder, cache_path, get_encoder,
)

_PASSAGE: dict[str, CachedEncoder] = {}


def encoders_for(name: str, settings: Settings | None = None) -> tuple[Encoder | CachedEncoder, Encoder | CachedEncoder]:
    """(question encoder, answer encoder) for a frozen encoder name, cached under the state folder."""
    settings = settings or Settings()
    question = get_encoder(name, settings.state_dir)
    if name != "e5":
        return question, question
    key = str(settings.state_dir)
    if key not in _PASSAGE:
        _PASSAGE[key] = CachedEncoder(E5Encoder(side="passage"), EmbeddingCache(cache_path(settings.state_dir)))
    return question, _PASSAGE[key]


@dataclass
class DenseDocuments:
    """Answer vectors, one row per answer (the frozen, dual-encoder and tuned MiniLM scorers alike)."""

    vectors: np.ndarray

    @property
    def size(self) -> int:
        """How many answers."""
        return int(self.vectors.shape[0])


class DenseDocumentsState:
    """``documents_state`` / ``documents_from_state`` of a scorer whose ``index`` returns :class:`DenseDocuments`."""

    def index(self, answers: Sequence[str]) -> DenseDocuments:  # pragma: no cover - each scorer has its own
        raise NotImplementedError

    def documents_state(self, documents: DenseDocuments) -> dict[str, np.ndarray]:
        """The answer vectors (so loading does not re-encode)."""
        return {"vectors": documents.vectors}

    def documents_from_state(self, answers: Sequence[str], arrays: dict[str, np.ndarray]) -> DenseDocuments:
        """The saved vectors, or the answers re-encoded when none were saved."""
        if "vectors" in arrays and arrays["vectors"].shape[0] == len(answers):
            return DenseDocuments(arrays["vectors"])
        return self.index(answers)


class FrozenEncoderScorer(DenseDocumentsState):
    """Cosine between a frozen encoder's question and answer embeddings (nothing is trained)."""

    def __init__(self, encoder: str = "use", settings: Settings | None = None) -> None:
        self.kind = encoder
        self.settings = settings
        self._question, self._answer = encoders_for(encoder, settings)

    def fit(self, questions: Sequence[str], answers: Sequence[str],
            groups: Sequence[str] | None = None) -> FrozenEncoderScorer:
        """Nothing to learn: the encoder is frozen."""
        return self

    def encode_questions(self, questions: Sequence[str]) -> np.ndarray:
        """Question embeddings (one-off questions skip the disk cache)."""
        if len(questions) == 1 and isinstance(self._question, CachedEncoder):
            return self._question.encode(list(questions), persist=False)
        return self._question.encode(list(questions))

    def index(self, answers: Sequence[str]) -> DenseDocuments:
        """Embed the answers."""
        return DenseDocuments(self._answer.encode(list(answers)))

    def score(self, questions: Sequence[str], documents: DenseDocuments) -> np.ndarray:  # type: ignore[override]
        """Cosine similarity of each question with each answer."""
        return self.encode_questions(questions) @ documents.vectors.T

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Only the encoder's name."""
        return {"encoder": self.kind}, {}

    @classmethod
    def from_state(cls, parameters: dict[str, Any], arrays: dict[str, np.ndarray],
                   settings: Settings | None = None) -> FrozenEncoderScorer:
        """Rebuild from :meth:`state`."""
        return cls(parameters["encoder"], settings=settings)
