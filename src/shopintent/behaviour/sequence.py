"""A GRU over a session's events: the sequence model compared with the LightGBM prefix model.

Why a GRU: the early-prediction literature (Requena et al., 2020, on Coveo
sessions) finds recurrent models reading raw event sequences competitive with
hand-made aggregates. Each step here is one event: its type, the time since the
previous event (the dwell on the previous page), embeddings of its item and
category (ids seen at least twice in training; the rest share an "unknown"
slot; ``embed_ids=False`` turns them off), and a few per-event flags (item seen before in the session or by the
user, item still in the user's cart). The shopper's history before the session
enters at the output layer. One network predicts every label at every step, so
a single pass gives the whole early-prediction curve, and its rows are exactly
the LightGBM model's rows (same :class:`PrefixTable`), which makes the
comparison like for like. Torch runs on one thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
import torch
from torch import nn

from shopintent.behaviour.early import early_curve
from shopintent.behaviour.examples import LABELS, PrefixTable
from shopintent.behaviour.metrics import best_f1_threshold, binary_scores
from shopintent.behaviour.persist import begin_save, finish_save, frame_checksum, read_model_json
from shopintent.log import get_logger
from shopintent.persist import load_tensors, save_tensors

log = get_logger(__name__)
_KIND = "sequence_intent"

_TYPE_COLUMNS = ("last_view", "last_add_to_cart", "last_favourite", "last_purchase")
_FLAG_COLUMNS = ("last_item_seen_before", "last_item_in_prior_cart", "last_item_prior_bought",
                 "last_item_carted", "last_item_faved")
_COUNT_COLUMNS = ("last_item_events", "same_item_run", "last_category_events", "last_gap_s")
_STATIC_COLUMNS = ("prior_sessions", "prior_events", "prior_views", "prior_carts", "prior_favs",
                   "prior_purchases", "prior_buy_sessions", "prior_open_carts", "prior_items",
                   "since_prior_h")
N_STEP = len(_TYPE_COLUMNS) + len(_FLAG_COLUMNS) + len(_COUNT_COLUMNS) + 3
N_STATIC = len(_STATIC_COLUMNS) + 1


class _Network(nn.Module):
    def __init__(self, n_items: int, n_categories: int, n_labels: int, hidden: int, emb: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.item = nn.Embedding(n_items, emb, padding_idx=0)
        self.category = nn.Embedding(n_categories, emb, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(N_STEP + 2 * emb, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden + N_STATIC, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, n_labels))

    def forward(self, steps: torch.Tensor, items: torch.Tensor, categories: torch.Tensor,
                static: torch.Tensor) -> torch.Tensor:
        x = torch.cat([steps, self.dropout(self.item(items)), self.dropout(self.category(categories))],
                      dim=-1)
        out, _ = self.gru(x)
        static = static.unsqueeze(1).expand(-1, out.shape[1], -1)
        return self.head(torch.cat([out, static], dim=-1))


class SequenceIntentModel(BaseEstimator):
    """Multi-task GRU over session prefixes (predicts ``labels`` after every event).

    A scikit-learn estimator without a classifier mixin: it learns from a
    :class:`~shopintent.behaviour.examples.PrefixTable`, several labels at once.

    Hyper-parameters: ``labels`` (columns of :data:`LABELS`), ``hidden``,
    ``embedding_dim``, ``epochs``, ``batch_size``, ``learning_rate``,
    ``validation_fraction`` (latest sessions, for choosing the epoch and the
    thresholds), ``random_state``. Learned: ``network_``, ``item_vocab_``,
    ``category_vocab_``, ``thresholds_``, ``best_epoch_``.

    Examples
    --------
    >>> from shopintent.behaviour.examples import build_prefix_table
    >>> from shopintent.samples import taobao_sessions
    >>> table = build_prefix_table(taobao_sessions(5000), max_k=5)
    >>> model = SequenceIntentModel(epochs=1, hidden=8, embedding_dim=4).fit_table(table)
    >>> model.predict_frame(table.frame.head(3)).shape, model.best_epoch_
    ((3, 1), 1)
    """

    def __init__(self, labels: tuple[str, ...] = ("y_purchase",), hidden: int = 64,
                 embedding_dim: int = 16, epochs: int = 8, batch_size: int = 128,
                 learning_rate: float = 3e-3, validation_fraction: float = 0.15,
                 item_min_count: int = 2, category_min_count: int = 2, embed_ids: bool = False,
                 dropout: float = 0.0, random_state: int = 0) -> None:
        self.labels = labels
        self.hidden = hidden
        self.embedding_dim = embedding_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.item_min_count = item_min_count
        self.category_min_count = category_min_count
        self.embed_ids = embed_ids
        self.dropout = dropout
        self.random_state = random_state


    # -- tensors --------------------------------------------------------------------------
    def _tensors(self, frame: pd.DataFrame) -> dict[str, Any]:
        frame = frame.sort_values(["session_id", "k"], kind="stable")
        sessions, position = np.unique(frame["session_id"].to_numpy(dtype=str), return_inverse=True)
        k = frame["k"].to_numpy(dtype=int) - 1
        length = int(k.max()) + 1 if len(k) else 1
        n = len(sessions)
        step = np.zeros((len(frame), N_STEP), dtype=np.float32)
        col = 0
        for name in (*_TYPE_COLUMNS, *_FLAG_COLUMNS):
            step[:, col] = frame[name].to_numpy(dtype=float)
            col += 1
        for name in _COUNT_COLUMNS:
            step[:, col] = np.log1p(np.nan_to_num(frame[name].to_numpy(dtype=float), nan=0.0))
            col += 1
        hour = frame["hour"].to_numpy(dtype=float) * (2 * np.pi / 24)
        step[:, col], step[:, col + 1] = np.sin(hour), np.cos(hour)
        step[:, col + 2] = (k == 0)
        steps = np.zeros((n, length, N_STEP), dtype=np.float32)
        steps[position, k] = step
        items = np.zeros((n, length), dtype=np.int64)
        categories = np.zeros((n, length), dtype=np.int64)
        items[position, k] = [self.item_vocab_.get(i, 1) for i in frame["item_id"].fillna("")]
        categories[position, k] = [self.category_vocab_.get(c, 1) for c in frame["category_id"].fillna("")]
        first = frame[frame["k"] == 1].set_index("session_id").reindex(sessions)
        static = np.zeros((n, N_STATIC), dtype=np.float32)
        for j, name in enumerate(_STATIC_COLUMNS):
            values = first[name].to_numpy(dtype=float)
            static[:, j] = np.log1p(np.nan_to_num(values, nan=0.0))
        static[:, -1] = np.isnan(first["since_prior_h"].to_numpy(dtype=float))
        targets = np.full((n, length, len(self.labels)), np.nan, dtype=np.float32)
        for j, label in enumerate(self.labels):
            if label in frame.columns:
                targets[position, k, j] = frame[label].to_numpy(dtype=float)
        end_ts = frame.groupby("session_id")["ts"].max().reindex(sessions).to_numpy()
        return {"steps": torch.from_numpy(steps), "items": torch.from_numpy(items),
                "categories": torch.from_numpy(categories), "static": torch.from_numpy(static),
                "targets": torch.from_numpy(targets), "sessions": sessions, "position": position,
                "k": k, "end_ts": end_ts}

    def _forward(self, data: dict[str, Any], index: np.ndarray) -> torch.Tensor:
        return self.network_(data["steps"][index], data["items"][index], data["categories"][index],
                             data["static"][index])

    @staticmethod
    def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        mask = ~torch.isnan(targets)
        if not mask.any():
            return logits.sum() * 0.0
        return nn.functional.binary_cross_entropy_with_logits(logits[mask], targets[mask])

    # -- fitting --------------------------------------------------------------------------
    def fit_table(self, table: PrefixTable) -> SequenceIntentModel:
        """Fit on the training :class:`PrefixTable` (validation: its latest sessions)."""
        unknown = [label for label in self.labels if label not in LABELS]
        if unknown:
            raise ValueError(f"unknown label(s) {unknown}; choose from {', '.join(LABELS)}")
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        frame = table.frame
        # Without id embeddings every item and category maps to the one "unknown" slot.
        self.item_vocab_ = _vocabulary(frame["item_id"], self.item_min_count) if self.embed_ids else {}
        self.category_vocab_ = (_vocabulary(frame["category_id"], self.category_min_count)
                                if self.embed_ids else {})
        data = self._tensors(frame)
        order = np.argsort(data["end_ts"], kind="stable")
        n_val = max(1, int(len(order) * self.validation_fraction))
        fit_idx, val_idx = order[:-n_val], order[-n_val:]
        self.network_ = _Network(len(self.item_vocab_) + 2, len(self.category_vocab_) + 2,
                                 len(self.labels), self.hidden, self.embedding_dim, self.dropout)
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate,
                                     weight_decay=1e-5)
        best, best_state, self.best_epoch_ = float("inf"), None, 0
        self.history_: list[dict[str, float]] = []
        for epoch in range(1, self.epochs + 1):
            self.network_.train()
            shuffled = rng.permutation(fit_idx)
            for start in range(0, len(shuffled), self.batch_size):
                batch = shuffled[start:start + self.batch_size]
                optimiser.zero_grad()
                loss = self._loss(self._forward(data, batch), data["targets"][batch])
                loss.backward()
                nn.utils.clip_grad_norm_(self.network_.parameters(), 5.0)
                optimiser.step()
            self.network_.eval()
            with torch.no_grad():
                val_loss = float(self._loss(self._forward(data, val_idx), data["targets"][val_idx]))
            self.history_.append({"epoch": epoch, "validation_loss": val_loss})
            if val_loss < best:
                best, self.best_epoch_ = val_loss, epoch
                best_state = {k: v.clone() for k, v in self.network_.state_dict().items()}
        if best_state is not None:
            self.network_.load_state_dict(best_state)
        self.validation_loss_ = best
        # Thresholds on the validation sessions' rows.
        val_frame = frame[frame["session_id"].isin(set(data["sessions"][val_idx]))]
        val_scores = self.predict_frame(val_frame)
        self.thresholds_ = {}
        for j, label in enumerate(self.labels):
            defined = val_frame[label].notna().to_numpy()
            y = val_frame[label].to_numpy()[defined]
            self.thresholds_[label] = (best_f1_threshold(y, val_scores[defined, j])
                                       if len(np.unique(y)) == 2 else 0.5)
        self.data_checksum_ = frame_checksum(frame[["session_id", "k", *self.labels]])
        log.info("sequence model fitted", labels=self.labels, best_epoch=self.best_epoch_,
                 validation_loss=best)
        return self

    # -- predicting -----------------------------------------------------------------------
    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities for every row of a prefix-table frame, in the frame's row order."""
        data = self._tensors(frame)
        self.network_.eval()
        with torch.no_grad():
            probs = torch.sigmoid(self._forward(data, np.arange(len(data["sessions"])))).numpy()
        ordered = probs[data["position"], data["k"]]
        # _tensors sorted the rows by (session, k); map back to the caller's order.
        sort_order = np.lexsort((frame["k"].to_numpy(), frame["session_id"].to_numpy(dtype=str)))
        out = np.empty_like(ordered)
        out[sort_order] = ordered
        return out

    def evaluate(self, table: PrefixTable, ks: range = range(1, 11)) -> dict[str, Any]:
        """Held-out metrics per label and the early-prediction curve (same rows as LightGBM)."""
        scores = self.predict_frame(table.frame)
        out: dict[str, Any] = {"labels": {}, "early_curve": {}}
        for j, label in enumerate(self.labels):
            defined = table.frame[label].notna().to_numpy()
            rows = table.frame[defined]
            out["labels"][label] = binary_scores(rows[label].to_numpy(), scores[defined, j],
                                                 self.thresholds_[label]).as_dict()
            out["early_curve"][label] = early_curve(rows, label, scores[defined, j], ks)
        return out

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path | str, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``network.safetensors``, ``model.json`` (with vocabularies) and the manifest."""
        path = begin_save(path)
        save_tensors(path / "network.safetensors", self.network_.state_dict())
        return finish_save(path, _KIND, self.get_params(deep=False), self.data_checksum_, metrics or {},
                           extra={"thresholds": self.thresholds_, "best_epoch": self.best_epoch_,
                                  "item_vocab": self.item_vocab_, "category_vocab": self.category_vocab_})

    @classmethod
    def load(cls, path: Path | str) -> SequenceIntentModel:
        """Read a model written by :meth:`save` (its manifest verified first)."""
        path = Path(path)
        record = read_model_json(path, _KIND)
        params = dict(record["parameters"])
        params["labels"] = tuple(params["labels"])
        model = cls(**params)
        model.thresholds_ = record["thresholds"]
        model.best_epoch_ = record["best_epoch"]
        model.item_vocab_ = record["item_vocab"]
        model.category_vocab_ = record["category_vocab"]
        model.data_checksum_ = record["data_checksum"]
        model.network_ = _Network(len(model.item_vocab_) + 2, len(model.category_vocab_) + 2,
                                  len(model.labels), model.hidden, model.embedding_dim, model.dropout)
        model.network_.load_state_dict(load_tensors(path / "network.safetensors"))
        return model


def _vocabulary(values: pd.Series, min_count: int) -> dict[str, int]:
    """Ids seen at least ``min_count`` times → 2, 3, … (0 is padding, 1 unknown)."""
    counts = values.dropna().value_counts()
    kept = sorted(counts[counts >= min_count].index)
    return {value: i + 2 for i, value in enumerate(kept)}
