"""LSTMClassifier: a BiLSTM over word tokens (jieba words for Chinese), trained from scratch — a baseline.

Why keep it: it is the classic pre-transformer intent model, and the issue asks
for it in the same table as TF-IDF and the frozen encoders, so a reader sees
what pretrained multilingual sentence embeddings buy. It has no pretrained
weights, so it knows no paraphrase it has not seen; expect it below the
frozen-encoder models on small data. Calibration and rejection reuse the
same temperature scaling and validation threshold as :class:`IntentClassifier`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from shopintent.log import get_logger
from shopintent.text.calibration import (
    calibrated_proba,
    choose_rejection_threshold,
    fit_temperature,
)
from shopintent.text.clean import clean_text
from shopintent.text.language import detect_language

log = get_logger(__name__)

_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]", re.UNICODE)
_MAX_TOKENS = 64


def word_tokens(text: str) -> list[str]:
    """Lower-cased words; Chinese (or mixed) text is segmented with jieba."""
    text = clean_text(text).lower()
    if detect_language(text) in ("zh", "mixed"):
        import jieba

        jieba.setLogLevel(60)
        return [t for t in jieba.lcut(text) if t.strip()][:_MAX_TOKENS]
    return _WORD.findall(text)[:_MAX_TOKENS]


class LSTMClassifier(ClassifierMixin, BaseEstimator):
    """Embedding → BiLSTM → max-pool → linear, with temperature scaling and an OOS threshold.

    A scikit-learn classifier (``score`` is the accuracy of :meth:`predict`,
    ``oos_label`` counting as a label). Not saved: it is a benchmark baseline.

    Examples
    --------
    >>> from shopintent.samples import clinc_slice
    >>> data = clinc_slice(n_intents=4, per_intent=20)
    >>> lstm = LSTMClassifier(epochs=2, embedding_dim=16, hidden_dim=16).fit(*data.train, *data.validation)
    >>> label, confidence = lstm.predict_with_confidence(["set an alarm for 7 am"])[0]
    >>> label in set(data.train[1]), 0.0 <= confidence <= 1.0
    (True, True)
    """

    def __init__(
        self,
        embedding_dim: int = 128,
        hidden_dim: int = 128,
        epochs: int = 8,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        dropout: float = 0.3,
        oos_label: str = "oos",
        random_state: int = 0,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.oos_label = oos_label
        self.random_state = random_state

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [[self.vocab_.get(t, 1) for t in word_tokens(x)] or [1] for x in texts]

    def _tensor(self, ids: Sequence[Sequence[int]]):  # type: ignore[no-untyped-def]
        import torch

        length = max(len(i) for i in ids)
        out = torch.zeros(len(ids), length, dtype=torch.long)
        for row, seq in enumerate(ids):
            out[row, : len(seq)] = torch.tensor(seq)
        return out

    def _network(self, n_vocab: int, n_classes: int):  # type: ignore[no-untyped-def]
        import torch
        from torch import nn

        emb_dim, hid, drop = self.embedding_dim, self.hidden_dim, self.dropout

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = nn.Embedding(n_vocab, emb_dim, padding_idx=0)
                self.lstm = nn.LSTM(emb_dim, hid, batch_first=True, bidirectional=True)
                self.drop = nn.Dropout(drop)
                self.out = nn.Linear(2 * hid, n_classes)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                h, _ = self.lstm(self.drop(self.emb(x)))
                h = h.masked_fill((x == 0).unsqueeze(-1), -1e4)
                return self.out(self.drop(h.max(dim=1).values))

        return Net()

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        valid_texts: Sequence[str],
        valid_labels: Sequence[str],
    ) -> LSTMClassifier:
        """Train on ``texts``; keep the best validation-accuracy epoch; calibrate on validation."""
        import torch

        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        tokens = [word_tokens(t) for t in texts]
        counts = Counter(t for seq in tokens for t in seq)
        self.vocab_ = {
            t: i + 2 for i, t in enumerate(sorted(t for t, c in counts.items() if c >= 1))
        }
        self.classes_ = np.array(sorted(set(labels)))
        index = {c: i for i, c in enumerate(self.classes_)}
        ids = [[self.vocab_.get(t, 1) for t in seq] or [1] for seq in tokens]
        y = torch.tensor([index[label] for label in labels])
        valid_ids = self._ids(valid_texts)
        self.net_ = self._network(len(self.vocab_) + 2, len(self.classes_))
        optimiser = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)
        loss_fn = torch.nn.CrossEntropyLoss()
        best, best_state = -1.0, None
        valid_known = np.array([label in index for label in valid_labels])
        valid_y = np.array([index.get(label, -1) for label in valid_labels])
        for epoch in range(self.epochs):
            self.net_.train()
            order = rng.permutation(len(ids))
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                x = self._tensor([ids[i] for i in batch])
                # word dropout so <unk> (id 1) is learned
                x = x.masked_fill((torch.rand(x.shape) < 0.1) & (x > 0), 1)
                loss = loss_fn(self.net_(x), y[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            logits = self._logits(valid_ids)
            accuracy = float((logits.argmax(1) == valid_y)[valid_known].mean())
            log.info("lstm epoch", epoch=epoch + 1, validation_accuracy=round(accuracy, 4))
            if accuracy > best:
                best = accuracy
                best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
        self.net_.load_state_dict(best_state)  # type: ignore[arg-type]
        logits = self._logits(valid_ids)
        self.temperature_ = fit_temperature(logits[valid_known], valid_y[valid_known])
        proba = calibrated_proba(logits, self.temperature_)
        top = proba.argmax(1)
        truth = np.array(valid_labels)
        self.threshold_, _ = choose_rejection_threshold(
            proba.max(1),
            self.classes_[top] == truth,
            truth == self.oos_label,
            rejected_anyway=self.classes_[top] == self.oos_label,
        )
        return self

    def _logits(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        import torch

        self.net_.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(ids), 512):
                out.append(self.net_(self._tensor(ids[start : start + 512])).numpy())
        return np.vstack(out) if out else np.zeros((0, len(self.classes_)))

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The label of each text, ``oos_label`` when rejected."""
        return [label for label, _ in self.predict_with_confidence(texts)]

    def predict_with_confidence(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """``(label, confidence)``; ``oos_label`` when the calibrated confidence is under the threshold."""
        if not hasattr(self, "net_"):
            raise NotFittedError("LSTMClassifier is not fitted: call fit(...) first")
        proba = calibrated_proba(self._logits(self._ids(texts)), self.temperature_)
        out = []
        for row in proba:
            label, p = str(self.classes_[row.argmax()]), float(row.max())
            out.append((self.oos_label, 1 - p) if p < self.threshold_ else (label, p))
        return out
