"""What every question→answer scorer offers, so QAIndex, the protocol and the bench treat them alike.

A scorer learns from training pairs (``fit``; a no-op for frozen models),
turns a list of answers into a searchable ``Documents`` object (``index``),
and scores questions against it (``score`` → ``(n_questions, n_documents)``,
higher is better). ``state``/``from_state`` round-trip it through JSON
parameters and numeric arrays only (no pickle).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class Documents(Protocol):
    """An indexed answer list; ``size`` answers, scorer-specific contents."""

    size: int


class Scorer(Protocol):
    """A model that scores how well each answer answers each question."""

    kind: str

    def fit(self, questions: Sequence[str], answers: Sequence[str],
            groups: Sequence[str] | None = None) -> Scorer:
        """Learn from aligned training pairs (``groups``: product ids, for disjoint validation)."""
        ...

    def index(self, answers: Sequence[str]) -> Documents:
        """Prepare ``answers`` for scoring."""
        ...

    def score(self, questions: Sequence[str], documents: Documents) -> np.ndarray:
        """``(len(questions), documents.size)`` scores, higher = better answer."""
        ...

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What ``fit`` learned: JSON parameters and named arrays."""
        ...

    def documents_state(self, documents: Documents) -> dict[str, np.ndarray]:
        """Arrays that rebuild ``documents`` without re-encoding (may be empty)."""
        ...

    def documents_from_state(self, answers: Sequence[str], arrays: dict[str, np.ndarray]) -> Documents:
        """Rebuild ``documents`` from the answers and :meth:`documents_state`'s arrays."""
        ...
