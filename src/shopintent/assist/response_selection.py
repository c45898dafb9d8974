"""Chinese response selection on the ECD Taobao sample: rank a shop's candidate replies to a chat, R10@k.

Why: the assistant's Chinese side must pick the right reply among plausible
shop talk. ECD's published sample has 100 test chats × 10 candidate replies
(the first is the true next turn, the nine others real replies from other
chats) and only 77 training chats with one negative each — too few to train a
model. So every model here is trained elsewhere or not at all: BM25 and the
frozen encoders are zero-shot, the ``dual`` encoder is the one fine-tuned on
*English* AmazonQA pairs (a documented, disjoint source; USE-multilingual
carries it to Chinese). The 77 training chats only choose how many context
turns to read and the hybrid weight. 100 contexts give R10@1 a standard error
of about ±5 points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shopintent.assist.scorer import Scorer
from shopintent.datasets import ecd_taobao_dialogue_sample as ecd
from shopintent.settings import Settings

#: How many of the last context turns the question side reads; ``0`` = all.
TURN_CHOICES = (1, 2, 3, 0)


@dataclass(frozen=True)
class Chat:
    """One context and its candidate replies; ``candidates[0]`` is the true one."""

    context: tuple[str, ...]
    candidates: tuple[str, ...]


def load_chats(split: str = "test", settings: Settings | None = None) -> list[Chat]:
    """The chats of ``split`` (``test``: 100 × 10 candidates; ``train``: 77 × 2), text unsegmented.

    Raises ``ValueError`` if a block does not start with its true reply.
    """
    pairs, _ = ecd.read_split(split, settings)
    chats: list[Chat] = []
    block: list[ecd.Pair] = []
    for pair in pairs + [None]:  # type: ignore[list-item]
        if block and (pair is None or pair.context != block[0].context or pair.label == 1):
            if block[0].label != 1:
                raise ValueError(f"{split} line {block[0].line}: a block must start with its true reply")
            chats.append(Chat(tuple(ecd.unsegment(t) for t in block[0].context),
                              tuple(ecd.unsegment(p.response) for p in block)))
            block = []
        if pair is not None:
            block.append(pair)
    return chats


def context_text(context: Sequence[str], turns: int) -> str:
    """The last ``turns`` turns (all when 0), oldest first, joined by spaces."""
    chosen = context if turns == 0 else context[-turns:]
    return " ".join(chosen)


def recall_at(scores: np.ndarray, ks: Sequence[int] = (1, 2, 5)) -> dict[str, float]:
    """R_n@k of ``(chats, n)`` scores whose column 0 is the true reply (ties count against it), and MRR.

    >>> recall_at(np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]), ks=(1, 2))
    {'r10_at_1': 0.5, 'r10_at_2': 0.5, 'mrr': 0.6666666666666666}
    """
    rank = 1 + (scores[:, 1:] >= scores[:, :1]).sum(axis=1)
    out = {f"r10_at_{k}": float((rank <= k).mean()) for k in ks}
    out["mrr"] = float((1.0 / rank).mean())
    return out


def chat_scores(scorer: Scorer, chats: Sequence[Chat], turns: int) -> np.ndarray:
    """``(chats, candidates)`` scores: every reply of the split is indexed together (BM25 IDF over all)."""
    replies = [r for chat in chats for r in chat.candidates]
    documents = scorer.index(replies)
    full = scorer.score([context_text(c.context, turns) for c in chats], documents)
    width = len(chats[0].candidates)
    cols = np.arange(len(chats))[:, None] * width + np.arange(width)[None, :]
    return np.take_along_axis(full, cols, axis=1)


def choose_turns(scorer: Scorer, train: Sequence[Chat]) -> tuple[int, dict[str, float]]:
    """The context length with the best accuracy on the training chats (pairs: true vs one negative)."""
    found = {str(t): recall_at(chat_scores(scorer, train, t), ks=(1,))["r10_at_1"] for t in TURN_CHOICES}
    best = max(TURN_CHOICES, key=lambda t: (found[str(t)], -t if t else -99))
    return best, found
