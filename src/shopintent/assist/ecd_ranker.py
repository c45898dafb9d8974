"""A small learned combination of reply scores for Chinese response selection, trained on next-turn pairs.

Why: on the ECD sample every single zero-shot score (e5, USE, character
n-grams) is weak and each errs on different chats, but the published training
part is only 77 chats with one negative each. Each of those chats is itself a
conversation, though: every shop turn inside a training context is a true
reply to the turns before it. So the training chats give a few hundred
next-turn examples, each with nine negative replies drawn the way ECD drew its
own (the other chats' shop turns that look most like the context, by
character n-grams), and a logistic regression over per-chat standardised
scores learns how much each score and each context length should count. Only
the training chats are read for this; the test chats are scored once.

Features (each standardised over a chat's candidates): e5 ``query:`` context
vs ``passage:`` reply and USE cosine, over the last 1, 2 and 3 turns (the last
turn is always the customer's: every context has an odd number of turns), and
the character 1–3-gram TF-IDF cosine over the same spans, plus the reply's
log length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from shopintent.assist.hybrid import standardise
from shopintent.assist.response_selection import Chat, context_text, recall_at
from shopintent.log import get_logger
from shopintent.settings import Settings

log = get_logger(__name__)

SPANS = (1, 2, 3)
CHOICES_C = (0.01, 0.1, 1.0, 10.0)
NEGATIVE_SCHEMES = ("near", "random", "mixed")
NEGATIVES = 9


def next_turn_chats(chats: Sequence[Chat], negatives: int = NEGATIVES, near: str = "mixed",
                    seed: int = 0) -> list[Chat]:
    """Every shop turn inside the chats' contexts (odd positions) as a chat of its own, with negatives.

    The published true reply is not used, so the chats' own published pairs
    stay a held-out check. A negative is a distinct shop turn of another chat:
    with ``near="near"`` the ones most like the context (character n-gram TF-IDF
    over its last three turns, as ECD retrieved its negatives), ``"random"``
    drawn at random, ``"mixed"`` half each.
    """
    if near not in NEGATIVE_SCHEMES:
        raise ValueError(f"near must be one of {NEGATIVE_SCHEMES}, got {near!r}")
    rng = np.random.default_rng(seed)
    examples: list[tuple[int, tuple[str, ...], str]] = []
    owners: dict[str, set[int]] = {}
    for number, chat in enumerate(chats):
        for j in range(1, len(chat.context), 2):
            owners.setdefault(chat.context[j], set()).add(number)
            examples.append((number, tuple(chat.context[:j]), chat.context[j]))
    texts = sorted(owners)
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit(texts)
    pool_matrix = vectoriser.transform(texts)
    n_near = {"near": negatives, "random": 0, "mixed": (negatives + 1) // 2}[near]
    out: list[Chat] = []
    for number, context, reply in examples:
        allowed = np.array([number not in owners[t] and t != reply for t in texts])
        sim = (vectoriser.transform([context_text(context, 3)]) @ pool_matrix.T).toarray()[0]
        sim[~allowed] = -np.inf
        chosen = [int(i) for i in np.argsort(-sim, kind="stable")[:n_near]]
        rest = [int(i) for i in np.flatnonzero(allowed) if int(i) not in chosen]
        chosen += [int(i) for i in rng.choice(rest, size=negatives - len(chosen), replace=False)]
        out.append(Chat(context, (reply, *[texts[i] for i in chosen])))
    return out


@dataclass
class ReplyRanker:
    """Logistic regression over standardised per-chat reply scores (``C`` and negatives chosen on training chats)."""

    settings: Settings | None = None
    seed: int = 0
    C: float | None = None
    negatives: str | None = None
    names_: list[str] = field(default_factory=list)
    validation_: dict[str, float] = field(default_factory=dict)
    model_: LogisticRegression | None = None
    _tfidf: TfidfVectorizer | None = None

    def _encoders(self) -> tuple[Any, Any, Any]:
        from shopintent.assist.dense import encoders_for
        from shopintent.text.encoders import get_encoder

        settings = self.settings or Settings()
        e5_query, e5_passage = encoders_for("e5", settings)
        return e5_query, e5_passage, get_encoder("use", settings.state_dir)

    def features(self, chats: Sequence[Chat]) -> np.ndarray:
        """``(chats, candidates, features)``, each feature standardised over a chat's candidates."""
        if self._tfidf is None:
            raise RuntimeError("fit the ranker first")
        e5_query, e5_passage, use = self._encoders()
        n, m = len(chats), len(chats[0].candidates)
        flat = [c for chat in chats for c in chat.candidates]
        passages = e5_passage.encode(flat).reshape(n, m, -1)
        use_replies = use.encode(flat).reshape(n, m, -1)
        grams = normalize(self._tfidf.transform(flat))
        columns: list[np.ndarray] = []
        names: list[str] = []
        for span in SPANS:
            contexts = [context_text(chat.context, span) for chat in chats]
            columns.append(np.einsum("nd,nmd->nm", e5_query.encode(contexts), passages))
            columns.append(np.einsum("nd,nmd->nm", use.encode(contexts), use_replies))
            q = normalize(self._tfidf.transform(contexts))
            columns.append(np.asarray([(q[i] @ grams[i * m : (i + 1) * m].T).toarray()[0] for i in range(n)]))
            names += [f"e5_last{span}", f"use_last{span}", f"chargram_last{span}"]
        columns.append(np.log1p(np.array([[len(c) for c in chat.candidates] for chat in chats], dtype=float)))
        names.append("log_length")
        self.names_ = names
        return np.stack([standardise(c) for c in columns], axis=-1)

    def fit(self, chats: Sequence[Chat]) -> ReplyRanker:
        """Learn from next-turn chats built from the training contexts; choose ``C`` and the negatives on their published pairs.

        The choice is the pairwise accuracy on the training chats' own published
        (true reply, negative) pairs, which the next-turn chats do not contain.
        """
        texts = [t for chat in chats for t in (*chat.context, *chat.candidates)]
        self._tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit(texts)
        held = self.features(chats)
        f = held.shape[-1]
        best: tuple[float, str, float, LogisticRegression] | None = None
        schemes = NEGATIVE_SCHEMES if self.negatives is None else (self.negatives,)
        choices = CHOICES_C if self.C is None else (self.C,)
        for scheme in schemes:
            x = self.features(next_turn_chats(chats, near=scheme, seed=self.seed))
            y = np.zeros(x.shape[:2])
            y[:, 0] = 1
            for c in choices:
                model = LogisticRegression(C=c, max_iter=2000).fit(x.reshape(-1, f), y.ravel())
                found = recall_at(model.decision_function(held.reshape(-1, f)).reshape(held.shape[:2]),
                                  ks=(1,))["r10_at_1"]
                self.validation_[f"{scheme} C={c}"] = found
                if best is None or found > best[0]:
                    best = (found, scheme, c, model)
        assert best is not None
        _, self.negatives, self.C, self.model_ = best
        log.info("reply ranker fitted", negatives=self.negatives, C=self.C, validation=self.validation_)
        return self

    @property
    def weights(self) -> dict[str, float]:
        """The fitted weight of each feature."""
        assert self.model_ is not None
        return {name: round(float(w), 4) for name, w in zip(self.names_, self.model_.coef_[0])}

    def score(self, chats: Sequence[Chat]) -> np.ndarray:
        """``(chats, candidates)`` scores, higher = more likely the true reply."""
        if self.model_ is None:
            raise RuntimeError("fit the ranker first")
        x = self.features(chats)
        n, m, f = x.shape
        return self.model_.decision_function(x.reshape(-1, f)).reshape(n, m)
