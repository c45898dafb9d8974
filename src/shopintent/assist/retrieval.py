"""QAIndex: answer a shopper's question from the shop's Q&A history, with sources and a calibrated confidence.

Why: the assistant must answer only from what the shop has said before
(grounded, no generation) and must know when it does not know, so the
hand-over to a person can be decided on a probability. A QAIndex holds Q&A
pairs, a question→answer scorer (``kind``: ``bm25``, frozen encoders ``use``,
``e5``, ``minilm``, MiniLM with its top layer fine-tuned ``minilm-tuned`` (English only), the fine-tuned dual encoder ``dual``, ``hybrid`` =
BM25 + dual, or ``fusion`` = BM25 + MiniLM + dual, English only) and a :class:`~shopintent.assist.confidence.Confidence` fitted on
products held out from the scorer's training (the 1-of-100 protocol), so the
confidence is measured, not guessed.

>>> idx = QAIndex.build(["is it quiet?", "does it fit a 2010 model?"] * 60,
...                     ["yes, very quiet", "it fits models from 2008 on"] * 60, kind="bm25")
>>> answers, confidence = idx.ask("how quiet is it")
>>> answers[0].text, 0.0 <= confidence <= 1.0
('yes, very quiet', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.assist.confidence import Confidence
from shopintent.assist.datasets import product_split
from shopintent.assist.protocol import CANDIDATES, candidate_scores, candidate_sets, _fold
from shopintent.assist.scorer import Documents, Scorer
from shopintent.log import get_logger
from shopintent.persist import (
    begin_save, load_arrays, read_json, read_model_json, save_arrays, write_json, write_manifest,
    write_model_json,
)
from shopintent.settings import Settings

log = get_logger(__name__)

KINDS = ("bm25", "use", "e5", "minilm", "minilm-tuned", "dual", "hybrid", "fusion")
FORMAT_VERSION = 1
#: Share of products held out of the scorer's training to fit the confidence.
CALIBRATION_SHARE = 0.2
#: Fewest held-out rows for an out-of-sample calibration; below it the confidence is fitted in-sample.
MIN_CALIBRATION_ROWS = 50
RETRAIN = "shopintent assist index"


@dataclass(frozen=True)
class Answer:
    """One retrieved answer: its text, the id of the Q&A row it comes from, and its score."""

    text: str
    source_id: str
    score: float


def scorer_class(kind: str) -> Any:
    """The scorer class of ``kind`` (one of :data:`KINDS`), imported on first use."""
    if kind == "bm25":
        from shopintent.assist.lexical import BM25Scorer

        return BM25Scorer
    if kind in ("use", "e5", "minilm"):
        from shopintent.assist.dense import FrozenEncoderScorer

        return FrozenEncoderScorer
    if kind == "dual":
        from shopintent.assist.dual_encoder import DualEncoderScorer

        return DualEncoderScorer
    if kind == "minilm-tuned":
        from shopintent.assist.minilm_tuned import MiniLMTunedScorer

        return MiniLMTunedScorer
    if kind == "hybrid":
        from shopintent.assist.hybrid import HybridScorer

        return HybridScorer
    if kind == "fusion":
        from shopintent.assist.fusion import FusionScorer

        return FusionScorer
    raise ValueError(f"unknown QA model kind {kind!r}; choose one of {', '.join(KINDS)}")


def make_scorer(kind: str, settings: Settings | None = None) -> Scorer:
    """A fresh scorer of ``kind`` (one of :data:`KINDS`)."""
    cls = scorer_class(kind)
    if kind == "bm25":
        return cls()
    if kind in ("use", "e5", "minilm"):
        return cls(kind, settings=settings)
    return cls(settings=settings)


def scorer_from_state(kind: str, parameters: dict[str, Any], arrays: dict[str, np.ndarray],
                      settings: Settings | None = None) -> Scorer:
    """Rebuild a fitted scorer from its saved state (no fresh scorer is built to reach the class)."""
    return scorer_class(kind).from_state(parameters, arrays, settings=settings)


class QAIndex:
    """Stored Q&A pairs + a fitted scorer + a confidence; ``ask`` answers with sources."""

    def __init__(self, questions: list[str], answers: list[str], products: list[str | None],
                 ids: list[str], scorer: Scorer, documents: Documents, confidence: Confidence,
                 record: dict[str, Any]) -> None:
        self.questions = questions
        self.answers = answers
        self.products = products
        self.ids = ids
        self.scorer = scorer
        self.documents = documents
        self.confidence = confidence
        self.record = record
        rows_of: dict[str, list[int]] = {}
        for i, product in enumerate(products):
            if product is not None:
                rows_of.setdefault(product, []).append(i)
        self._by_product = {k: np.asarray(v) for k, v in rows_of.items()}

    @property
    def kind(self) -> str:
        """The scorer's kind."""
        return self.scorer.kind

    @classmethod
    def build(cls, questions: Sequence[str], answers: Sequence[str],
              product_ids: Sequence[str | None] | None = None, ids: Sequence[str] | None = None, *,
              kind: str = "hybrid", settings: Settings | None = None, seed: int = 0) -> QAIndex:
        """Fit a ``kind`` scorer on the pairs, calibrate its confidence on held-out products, index every answer.

        Raises ``ValueError`` for misaligned inputs or an empty table.
        """
        n = len(questions)
        if n == 0 or len(answers) != n:
            raise ValueError(f"need as many answers as questions (got {n} questions, "
                             f"{len(answers)} answers), at least one")
        products = list(product_ids) if product_ids is not None else [None] * n
        ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(n)]
        if len(products) != n or len(ids) != n:
            raise ValueError("product_ids and ids must have one entry per question")
        groups = [p if p is not None else f"row:{i}" for i, p in enumerate(products)]
        train, held = product_split(groups, (1 - CALIBRATION_SHARE, CALIBRATION_SHARE), seed=seed)
        calibration = "held-out products"
        if len(held) < MIN_CALIBRATION_ROWS:
            train, held, calibration = np.arange(n), np.arange(n), "in-sample (too few rows to hold out)"
        scorer = make_scorer(kind, settings)
        scorer.fit([questions[i] for i in train], [answers[i] for i in train], [groups[i] for i in train])
        held_q = [questions[i] for i in held]
        held_a = [answers[i] for i in held]
        size = min(CANDIDATES, len({_fold(a) for a in held_a}))
        confidence = Confidence()
        if size >= 2:
            cands = candidate_sets(held_a, size=size, seed=seed)
            confidence.fit(candidate_scores(scorer, held_q, held_a, cands))
        documents = scorer.index(list(answers))
        record = {"rows": n, "calibration": calibration, "calibration_rows": int(len(held)),
                  "calibration_candidates": size, "seed": seed}
        log.info("built QA index", kind=kind, rows=n, calibration=calibration)
        return cls(list(questions), list(answers), products, ids, scorer, documents, confidence, record)

    def ask(self, question: str, product_id: str | None = None, k: int = 5) -> tuple[list[Answer], float]:
        """The ``k`` best stored answers and the probability the first is right.

        With ``product_id`` known to the index, only that product's answers are
        considered; an unknown product falls back to all answers. A question
        with no content (empty, only spaces) gets no answer and confidence 0.
        """
        if not question or not question.strip() or k < 1:
            return [], 0.0
        scores = self.scorer.score([question], self.documents)[0]
        pool = self._by_product.get(product_id) if product_id is not None else None
        if pool is None:
            pool = np.arange(len(self.answers))
        pool_scores = scores[pool]
        order = np.argsort(-pool_scores, kind="stable")[:k]
        answers = [Answer(self.answers[int(pool[j])], self.ids[int(pool[j])], float(pool_scores[j]))
                   for j in order]
        confidence = float(self.confidence.predict(pool_scores[None, :])[0])
        return answers, confidence

    def save(self, folder: Path) -> None:
        """Write the index: ``model.json``, the pairs as JSON, the scorer's arrays as safetensors."""
        folder = begin_save(folder)
        parameters, arrays = self.scorer.state()
        write_json(folder / "pairs.json", {"questions": self.questions, "answers": self.answers,
                                           "products": self.products, "ids": self.ids}, indent=None)
        if arrays:
            save_arrays(folder / "scorer.safetensors", arrays)
        doc_arrays = self.scorer.documents_state(self.documents)
        if doc_arrays:
            save_arrays(folder / "documents.safetensors", doc_arrays)
        write_model_json(folder, "QAIndex", FORMAT_VERSION, {"kind": self.kind, "scorer": parameters},
                         confidence=self.confidence.state(), training=self.record)
        write_manifest(folder)

    @classmethod
    def load(cls, folder: Path, settings: Settings | None = None) -> QAIndex:
        """Read an index written by :meth:`save` (manifest verified, no pickle)."""
        folder = Path(folder)
        meta = read_model_json(folder, "QAIndex", FORMAT_VERSION, retrain=RETRAIN)
        pairs = read_json(folder / "pairs.json")
        arrays = load_arrays(folder / "scorer.safetensors") if (folder / "scorer.safetensors").is_file() else {}
        kind = meta["parameters"]["kind"]
        scorer = scorer_from_state(kind, meta["parameters"]["scorer"], arrays, settings)
        doc_file = folder / "documents.safetensors"
        documents = scorer.documents_from_state(pairs["answers"], load_arrays(doc_file) if doc_file.is_file() else {})
        return cls(pairs["questions"], pairs["answers"], pairs["products"], pairs["ids"], scorer, documents,
                   Confidence.from_state(meta["confidence"]), meta.get("training", {}))
