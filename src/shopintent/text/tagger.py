"""SlotTagger: a BiLSTM-CRF over characters (zh) or words (en) with gazetteer features, in torch.

Why this model: Chinese product queries have no spaces and brands are open
vocabulary ("三只松鼠", "otax"), so the tagger reads characters plus the
character bigram to the right and, per character, whether it begins, continues
or ends a gazetteer entry (Ding et al. 2019 ship seven brand/product lists).
A CRF on top keeps B/I tags consistent. On English support messages (Bitext)
the same network reads word tokens with shape features (digits, case), which
is what order ids and amounts look like. It trains in minutes on one CPU core.

Tags are BIO internally; spans come out as character offsets into the
original text (end exclusive), scored with seqeval on the test split.

A runnable example on real data is in :class:`SlotTagger`'s docstring.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from shopintent.log import get_logger
from shopintent.persist import (
    begin_save,
    load_tensors,
    read_json,
    read_model_json,
    save_tensors,
    write_json,
    write_manifest,
    write_model_json,
)
from shopintent.schema import Span

log = get_logger(__name__)

#: 2: weights in safetensors and a manifest (1 wrote a torch pickle).
FORMAT_VERSION = 2
#: The command quoted when a saved tagger is refused (the default taggers are trained by it).
RETRAIN = "shopintent intent train-defaults"
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_PAD, _UNK = 0, 1
#: Characters a tagger reads at most per text (longer texts are tagged in their first part).
MAX_TOKENS = 256


def tokenize(text: str, mode: str) -> list[tuple[int, int]]:
    """Token offsets: every non-space character (``char``) or ``\\w+``/punctuation runs (``word``)."""
    text = text[: MAX_TOKENS * 16]
    if mode == "char":
        return [(i, i + 1) for i, c in enumerate(text) if not c.isspace()][:MAX_TOKENS]
    if mode == "word":
        return [m.span() for m in _WORD.finditer(text)][:MAX_TOKENS]
    raise ValueError(f"tokenizer mode {mode!r} is not 'char' or 'word'")


def _norm_token(token: str) -> str:
    return re.sub(r"\d", "0", token.lower())


def _shape(token: str) -> int:
    """A small shape id: digits, case and length tell ids and amounts from words."""
    if token.isdigit():
        return 1 + min(len(token) // 4, 4)  # 1..5
    if any(c.isdigit() for c in token):
        return 6
    if token.isupper() and len(token) > 1:
        return 7
    if token[:1].isupper():
        return 8
    if token.isalpha():
        return 9 if token.isascii() else 10
    return 11


class Gazetteer:
    """Longest-match lookup of dictionary entries by label, as per-token B/I/E/S indicator features."""

    def __init__(self, entries: Mapping[str, Sequence[str]], max_len: int = 12) -> None:
        self.labels = sorted(entries)
        self.max_len = max_len
        self.entries: dict[str, set[str]] = {
            label: {e.lower() for e in values if 1 < len(e) <= max_len}
            for label, values in entries.items()
        }

    @property
    def n_features(self) -> int:
        """Four indicators (begin, inside, end, single) per label."""
        return 4 * len(self.labels)

    def features(self, text: str, tokens: Sequence[tuple[int, int]]) -> np.ndarray:
        """``(len(tokens), n_features)`` 0/1 matrix: the token's role in any matching entry."""
        out = np.zeros((len(tokens), self.n_features), dtype=np.float32)
        if not tokens:
            return out
        lowered = text.lower()
        ends = {e: i for i, (_, e) in enumerate(tokens)}
        for li, label in enumerate(self.labels):
            entries = self.entries[label]
            for i, (start, _) in enumerate(tokens):
                for length in range(min(self.max_len, len(lowered) - start), 1, -1):
                    if lowered[start : start + length] in entries and (start + length) in ends:
                        j = ends[start + length]
                        base = 4 * li
                        if j == i:
                            out[i, base + 3] = 1
                        else:
                            out[i, base] = 1
                            out[i + 1 : j, base + 1] = 1
                            out[j, base + 2] = 1
                        break
        return out


def spans_to_bio(tokens: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[str]:
    """BIO tags of tokens for character spans (a token inside a span takes its label)."""
    tags = ["O"] * len(tokens)
    for span in spans:
        inside = [i for i, (s, e) in enumerate(tokens) if s >= span.start and e <= span.end]
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + span.label
    return tags


def bio_to_spans(text: str, tokens: Sequence[tuple[int, int]], tags: Sequence[str]) -> list[Span]:
    """Character spans from BIO tags; an ``I`` after another label starts a new span."""
    spans: list[Span] = []
    start = end = None
    label = None
    for (s, e), tag in zip(tokens, tags, strict=False):
        if tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != label):
            if label is not None:
                spans.append(Span(start, end, label, text[start:end]))  # type: ignore[arg-type]
            start, end, label = s, e, tag[2:]
        elif tag.startswith("I-"):
            end = e
        else:
            if label is not None:
                spans.append(Span(start, end, label, text[start:end]))  # type: ignore[arg-type]
            start = end = label = None
    if label is not None:
        spans.append(Span(start, end, label, text[start:end]))  # type: ignore[arg-type]
    return spans


def _build_network(
    n_tokens: int, n_bigrams: int, n_extra: int, n_tags: int, emb: int, hidden: int, dropout: float
):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    class CRF(nn.Module):
        """Linear-chain CRF: transition scores, forward algorithm and Viterbi."""

        def __init__(self, k: int) -> None:
            super().__init__()
            self.trans = nn.Parameter(torch.zeros(k, k))
            self.start = nn.Parameter(torch.zeros(k))
            self.end = nn.Parameter(torch.zeros(k))

        def nll(
            self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
        ) -> torch.Tensor:
            batch, length, _ = emissions.shape
            maskf = mask.float()
            score = self.start[tags[:, 0]] + emissions[:, 0].gather(1, tags[:, :1]).squeeze(1)
            for t in range(1, length):
                step = self.trans[tags[:, t - 1], tags[:, t]] + emissions[:, t].gather(
                    1, tags[:, t : t + 1]
                ).squeeze(1)
                score = score + step * maskf[:, t]
            last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
            score = score + self.end[last]
            alpha = self.start + emissions[:, 0]
            for t in range(1, length):
                nxt = torch.logsumexp(
                    alpha.unsqueeze(2) + self.trans + emissions[:, t].unsqueeze(1), dim=1
                )
                alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
            log_z = torch.logsumexp(alpha + self.end, dim=1)
            return (log_z - score).sum() / batch

        def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
            batch, length, _ = emissions.shape
            score = self.start + emissions[:, 0]
            history = []
            for t in range(1, length):
                best, idx = (score.unsqueeze(2) + self.trans).max(dim=1)
                nxt = best + emissions[:, t]
                history.append(idx)
                score = torch.where(mask[:, t : t + 1], nxt, score)
            score = score + self.end
            lengths = mask.sum(1).tolist()
            paths = []
            for b in range(batch):
                best_last = int(score[b].argmax())
                path = [best_last]
                for t in range(lengths[b] - 1, 0, -1):
                    best_last = int(history[t - 1][b, best_last])
                    path.append(best_last)
                paths.append(path[::-1])
            return paths

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(n_tokens, emb, padding_idx=_PAD)
            self.big = nn.Embedding(n_bigrams, emb // 2, padding_idx=_PAD)
            self.shape = nn.Embedding(12, 8)
            self.drop = nn.Dropout(dropout)
            self.lstm = nn.LSTM(
                emb + emb // 2 + 8 + n_extra, hidden, batch_first=True, bidirectional=True
            )
            self.out = nn.Linear(2 * hidden, n_tags)
            self.crf = CRF(n_tags)

        def emissions(self, tok, big, shape, extra):  # type: ignore[no-untyped-def]
            x = torch.cat([self.tok(tok), self.big(big), self.shape(shape), extra], dim=-1)
            h, _ = self.lstm(self.drop(x))
            return self.out(self.drop(h))

    return Net()


class SlotTagger(BaseEstimator):
    """BiLSTM-CRF span tagger (a scikit-learn estimator): ``fit``, ``predict_spans``, ``save``, ``load``.

    No classifier mixin: it predicts spans per text, not one label per row,
    and :meth:`score` returns entity precision, recall and F1.

    Examples
    --------
    >>> from shopintent.samples import ner_slice
    >>> texts, spans, test_texts, test_spans = ner_slice()
    >>> tagger = SlotTagger(mode="char", epochs=2, embedding_dim=16, hidden_dim=16,
    ...                     learning_rate=3e-2).fit(texts[:150], spans[:150])
    >>> tagger.tags_
    ['O', 'B-brand', 'I-brand', 'B-product_type', 'I-product_type']
    >>> sorted(tagger.score(test_texts[:20], test_spans[:20]))
    ['f1', 'precision', 'recall']

    Parameters
    ----------
    mode: ``char`` (Chinese) or ``word`` (English) tokens.
    embedding_dim, hidden_dim, dropout: network size.
    epochs, batch_size, learning_rate: training; the epoch with the best dev F1 is kept.
    min_count: tokens seen fewer times in training map to ``<unk>``.
    random_state: torch / shuffling seed.
    """

    def __init__(
        self,
        mode: str = "char",
        embedding_dim: int = 64,
        hidden_dim: int = 128,
        dropout: float = 0.3,
        epochs: int = 12,
        batch_size: int = 32,
        learning_rate: float = 5e-3,
        min_count: int = 1,
        random_state: int = 0,
        max_train_seconds: float | None = None,
    ) -> None:
        self.mode = mode
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.min_count = min_count
        self.random_state = random_state
        self.max_train_seconds = max_train_seconds

    # -- encoding ---------------------------------------------------------------------------
    def _token_strings(self, text: str, tokens: Sequence[tuple[int, int]]) -> list[str]:
        return [_norm_token(text[s:e]) for s, e in tokens]

    def _encode(
        self, text: str
    ) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        tokens = tokenize(text, self.mode) or [(0, 0)]
        strings = self._token_strings(text, tokens)
        tok = np.array([self.vocab_.get(t, _UNK) for t in strings], dtype=np.int64)
        bigram_keys = [a + "|" + b for a, b in zip(strings, strings[1:] + ["</s>"], strict=True)]
        big = np.array([self.bigrams_.get(b, _UNK) for b in bigram_keys], dtype=np.int64)
        shape = np.array([_shape(text[s:e]) if e > s else 0 for s, e in tokens], dtype=np.int64)
        extra = (
            self.gazetteer_.features(text, tokens)
            if self.gazetteer_ is not None
            else np.zeros((len(tokens), 0), dtype=np.float32)
        )
        return tokens, tok, big, shape, extra

    def _batch(self, encoded: Sequence[tuple], tags: Sequence[Sequence[int]] | None = None):  # type: ignore[no-untyped-def]
        import torch

        length = max(len(e[1]) for e in encoded)
        n = len(encoded)
        tok = torch.zeros(n, length, dtype=torch.long)
        big = torch.zeros(n, length, dtype=torch.long)
        shape = torch.zeros(n, length, dtype=torch.long)
        extra = torch.zeros(n, length, encoded[0][4].shape[1])
        mask = torch.zeros(n, length, dtype=torch.bool)
        tag_tensor = torch.zeros(n, length, dtype=torch.long)
        for i, (_, t, b, s, x) in enumerate(encoded):
            k = len(t)
            tok[i, :k] = torch.from_numpy(t)
            big[i, :k] = torch.from_numpy(b)
            shape[i, :k] = torch.from_numpy(s)
            extra[i, :k] = torch.from_numpy(x)
            mask[i, :k] = True
            if tags is not None:
                tag_tensor[i, :k] = torch.tensor(tags[i][:k])
        return tok, big, shape, extra, mask, tag_tensor

    def _batches(self, encoded: Sequence[tuple], rng: np.random.Generator) -> list[np.ndarray]:
        """Shuffled batches of similar length (less padding, fewer CRF steps wasted)."""
        order = rng.permutation(len(encoded))
        pool = self.batch_size * 20
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=lambda i: len(encoded[i][1]))
            batches += [
                np.array(chunk[k : k + self.batch_size])
                for k in range(0, len(chunk), self.batch_size)
            ]
        rng.shuffle(batches)
        return batches

    # -- training ---------------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]],
        dev_texts: Sequence[str] | None = None,
        dev_spans: Sequence[Sequence[Span]] | None = None,
        gazetteers: Mapping[str, Sequence[str]] | None = None,
        progress: Callable[[int, float], None] | None = None,
    ) -> SlotTagger:
        """Train on ``(texts, spans)``; keep the epoch with the best entity F1 on the dev set."""
        import torch

        if len(texts) != len(spans):
            raise ValueError(
                f"{len(texts)} texts but {len(spans)} span lists; give one list per text"
            )
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.gazetteer_ = Gazetteer(gazetteers) if gazetteers else None
        self.gazetteer_entries_ = {k: list(v) for k, v in (gazetteers or {}).items()}
        self._learn_vocabularies(texts, spans)
        encoded = [self._encode(t) for t in texts]
        tag_index = {t: i for i, t in enumerate(self.tags_)}
        tag_ids = [
            [tag_index[g] for g in spans_to_bio(e[0], s)]
            for e, s in zip(encoded, spans, strict=True)
        ]
        self.net_ = self._new_network(encoded[0][4].shape[1])
        best_state = self._train_epochs(encoded, tag_ids, rng, dev_texts, dev_spans, progress)
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        self.n_train_ = len(texts)
        self.net_.eval()
        return self

    def _learn_vocabularies(self, texts: Sequence[str], spans: Sequence[Sequence[Span]]) -> None:
        """Token and bigram ids (rare ones map to ``<unk>``) and the BIO tag set of the span labels."""
        counts: Counter[str] = Counter()
        bigram_counts: Counter[str] = Counter()
        for text in texts:
            strings = self._token_strings(text, tokenize(text, self.mode))
            counts.update(strings)
            bigram_counts.update(
                a + "|" + b for a, b in zip(strings, strings[1:] + ["</s>"], strict=True)
            )
        self.vocab_ = {
            t: i + 2
            for i, t in enumerate(sorted(t for t, c in counts.items() if c >= self.min_count))
        }
        self.bigrams_ = {
            t: i + 2 for i, t in enumerate(sorted(t for t, c in bigram_counts.items() if c >= 2))
        }
        labels = sorted({s.label for spans_ in spans for s in spans_})
        self.tags_ = ["O"] + [f"{p}-{label}" for label in labels for p in ("B", "I")]

    def _new_network(self, extra_dim: int):  # type: ignore[no-untyped-def]
        """The BiLSTM-CRF sized for the learnt vocabularies and ``extra_dim`` gazetteer features."""
        return _build_network(
            len(self.vocab_) + 2,
            len(self.bigrams_) + 2,
            extra_dim,
            len(self.tags_),
            self.embedding_dim,
            self.hidden_dim,
            self.dropout,
        )

    def _train_epochs(
        self,
        encoded: list[tuple],
        tag_ids: list[list[int]],
        rng: np.random.Generator,
        dev_texts: Sequence[str] | None,
        dev_spans: Sequence[Sequence[Span]] | None,
        progress: Callable[[int, float], None] | None,
    ) -> dict[str, Any] | None:
        """Epochs until ``epochs`` or ``max_train_seconds``; the best dev-F1 epoch's weights (``None``: no dev set)."""
        import torch

        optimiser = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)
        best_f1, best_state, self.history_ = -1.0, None, []
        started = time.perf_counter()
        for epoch in range(self.epochs):
            total = self._train_one_epoch(encoded, tag_ids, optimiser, rng)
            record: dict[str, float] = {"epoch": epoch + 1, "train_loss": total / len(encoded)}
            if dev_texts is not None and dev_spans is not None:
                record.update({f"dev_{k}": v for k, v in self.score(dev_texts, dev_spans).items()})
                if record["dev_f1"] > best_f1:
                    best_f1 = record["dev_f1"]
                    best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            self.history_.append(record)
            log.info("tagger epoch", **{k: round(v, 4) for k, v in record.items()})
            if progress is not None:
                progress(epoch + 1, record.get("dev_f1", math.nan))
            if self.max_train_seconds and time.perf_counter() - started > self.max_train_seconds:
                log.info(
                    "tagger stopped at time budget", epoch=epoch + 1, seconds=self.max_train_seconds
                )
                break
        self.best_dev_f1_ = best_f1
        return best_state

    def _train_one_epoch(
        self,
        encoded: list[tuple],
        tag_ids: list[list[int]],
        optimiser: Any,
        rng: np.random.Generator,
    ) -> float:
        """One pass over shuffled length-bucketed batches; the summed (row-weighted) CRF loss."""
        import torch

        self.net_.train()
        total = 0.0
        for idx in self._batches(encoded, rng):
            tok, big, shape, extra, mask, tags = self._batch(
                [encoded[i] for i in idx], [tag_ids[i] for i in idx]
            )
            # token dropout teaches the <unk> embeddings what unseen characters look like
            tok = tok.masked_fill((torch.rand(tok.shape) < 0.05) & mask, _UNK)
            big = big.masked_fill((torch.rand(big.shape) < 0.05) & mask, _UNK)
            loss = self.net_.crf.nll(self.net_.emissions(tok, big, shape, extra), tags, mask)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net_.parameters(), 5.0)
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        return total

    # -- inference --------------------------------------------------------------------------
    def predict_spans(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Span]]:
        """Spans per text, character offsets into the text as given."""
        import torch

        if not hasattr(self, "net_"):
            raise NotFittedError("SlotTagger is not fitted: call fit(...) or SlotTagger.load(path)")
        self.net_.eval()
        out: list[list[Span]] = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                chunk = list(texts[start : start + batch_size])
                encoded = [self._encode(t) for t in chunk]
                tok, big, shape, extra, mask, _ = self._batch(encoded)
                paths = self.net_.crf.decode(self.net_.emissions(tok, big, shape, extra), mask)
                for text, enc, path in zip(chunk, encoded, paths, strict=True):
                    if not text.strip():
                        out.append([])
                        continue
                    out.append(bio_to_spans(text, enc[0], [self.tags_[p] for p in path]))
        return out

    def score(self, texts: Sequence[str], spans: Sequence[Sequence[Span]]) -> dict[str, float]:
        """Entity precision, recall and F1 (seqeval, exact span match) on labelled texts."""
        from seqeval.metrics import f1_score, precision_score, recall_score

        predicted = self.predict_spans(texts)
        truth_tags, pred_tags = [], []
        for text, gold, pred in zip(texts, spans, predicted, strict=True):
            tokens = tokenize(text, self.mode) or [(0, 0)]
            truth_tags.append(spans_to_bio(tokens, gold))
            pred_tags.append(spans_to_bio(tokens, pred))
        return {
            "precision": float(precision_score(truth_tags, pred_tags)),
            "recall": float(recall_score(truth_tags, pred_tags)),
            "f1": float(f1_score(truth_tags, pred_tags)),
        }

    # -- persistence ------------------------------------------------------------------------
    def save(
        self, path: Path | str, metrics: dict[str, Any] | None = None, data_checksum: str = ""
    ) -> Path:
        """Write ``weights.safetensors``, vocabularies, ``model.json`` and the manifest to ``path``."""
        directory = begin_save(path)
        save_tensors(directory / "weights.safetensors", self.net_.state_dict())
        write_json(
            directory / "vocab.json",
            {
                "tokens": self.vocab_,
                "bigrams": self.bigrams_,
                "tags": self.tags_,
                "gazetteers": self.gazetteer_entries_,
            },
            indent=None,
        )
        write_model_json(
            directory,
            "SlotTagger",
            FORMAT_VERSION,
            self.get_params(deep=False),
            data_checksum=data_checksum,
            n_train=self.n_train_,
            best_dev_f1=self.best_dev_f1_,
            history=self.history_,
            metrics=metrics or {},
        )
        write_manifest(directory)
        return directory

    @classmethod
    def load(cls, path: Path | str) -> SlotTagger:
        """Read a tagger written by :meth:`save` (its manifest verified first)."""
        directory = Path(path)
        meta = read_model_json(directory, "SlotTagger", FORMAT_VERSION, retrain=RETRAIN)
        tagger = cls(**meta["parameters"])
        vocab = read_json(directory / "vocab.json")
        tagger.vocab_, tagger.bigrams_, tagger.tags_ = (
            vocab["tokens"],
            vocab["bigrams"],
            vocab["tags"],
        )
        tagger.gazetteer_entries_ = vocab["gazetteers"]
        tagger.gazetteer_ = Gazetteer(vocab["gazetteers"]) if vocab["gazetteers"] else None
        tagger.net_ = tagger._new_network(tagger.gazetteer_.n_features if tagger.gazetteer_ else 0)
        tagger.net_.load_state_dict(load_tensors(directory / "weights.safetensors"))
        tagger.net_.eval()
        tagger.history_ = meta["history"]
        tagger.best_dev_f1_ = meta["best_dev_f1"]
        tagger.n_train_ = meta["n_train"]
        return tagger
