"""CLIP-style text-to-image projection trained on catalogue (image, title) pairs.

Why: no image-text model with weights installs offline, but the two frozen
encoders do — EfficientNet-Lite0 for photos and the multilingual USE for text.
Two small projections into one 256-d space, trained with the symmetric
InfoNCE loss of CLIP on the training products' pairs, make a title (or a
Chinese query, through USE's shared space) find its photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


#: Fewest optimiser steps, whatever the catalogue's size (the default of ``ContrastiveProjection.min_steps``).
MIN_STEPS = 300


class _Tower(nn.Module):
    """Standardise, then a two-layer projection to the shared space, L2-normalised."""

    def __init__(self, dim_in: int, dim_out: int, hidden: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim_in))
        self.register_buffer("scale", torch.ones(dim_in))
        self.net = nn.Sequential(nn.Linear(dim_in, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.net((x - self.mean) / self.scale), dim=1)


@dataclass
class ContrastiveProjection:
    """Image and text towers trained with CLIP's symmetric contrastive loss.

    ``fit(images, texts)`` takes paired rows (row i of both is one product). ``min_steps``: a small
    catalogue still gets this many optimiser steps (more epochs); lower it only where speed matters more
    than the projection's quality (a test's small round trip), never for a reported number.
    """

    dim: int = 256
    hidden: int = 1024
    epochs: int = 40
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    min_steps: int = MIN_STEPS
    image_tower_: _Tower | None = field(default=None, repr=False)
    text_tower_: _Tower | None = field(default=None, repr=False)
    log_temperature_: float = field(default=0.0, repr=False)

    def fit(self, images: np.ndarray, texts: np.ndarray) -> ContrastiveProjection:
        """Learn both towers from paired embeddings."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts; pairs must align row by row")
        gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        img = torch.from_numpy(images.astype(np.float32))
        txt = torch.from_numpy(texts.astype(np.float32))
        self.image_tower_ = _Tower(img.shape[1], self.dim, self.hidden)
        self.text_tower_ = _Tower(txt.shape[1], self.dim, self.hidden)
        for tower, data in ((self.image_tower_, img), (self.text_tower_, txt)):
            tower.mean.copy_(data.mean(0))
            tower.scale.copy_(data.std(0) + 1e-6)
        log_t = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
        params = [*self.image_tower_.parameters(), *self.text_tower_.parameters(), log_t]
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        batches = max(1, -(-len(img) // self.batch_size))
        epochs = max(self.epochs, -(-self.min_steps // batches))  # a small catalogue still gets enough steps
        steps = epochs * batches
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=steps)
        self.image_tower_.train()
        self.text_tower_.train()
        for _ in range(epochs):
            order = torch.randperm(len(img), generator=gen)
            for start in range(0, len(img), self.batch_size):
                idx = order[start : start + self.batch_size]
                if len(idx) < 2:
                    continue
                zi, zt = self.image_tower_(img[idx]), self.text_tower_(txt[idx])
                logits = zt @ zi.T * log_t.clamp(max=np.log(100)).exp()
                target = torch.arange(len(idx))
                loss = (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        self.image_tower_.eval()
        self.text_tower_.eval()
        self.log_temperature_ = float(log_t.detach())
        return self

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """Image embeddings in the shared space (n, dim), unit length."""
        return self._run(self.image_tower_, images)

    def embed_texts(self, texts: np.ndarray) -> np.ndarray:
        """Text embeddings in the shared space (n, dim), unit length."""
        return self._run(self.text_tower_, texts)

    @staticmethod
    def _run(tower: _Tower | None, x: np.ndarray) -> np.ndarray:
        if tower is None:
            raise RuntimeError("ContrastiveProjection is not fitted; call fit first")
        with torch.inference_mode():
            return tower(torch.from_numpy(x.astype(np.float32))).numpy()

    def state(self) -> dict[str, torch.Tensor]:
        """All weights as named tensors (for safetensors)."""
        if self.image_tower_ is None or self.text_tower_ is None:
            raise RuntimeError("ContrastiveProjection is not fitted; call fit first")
        out = {f"image.{k}": v for k, v in self.image_tower_.state_dict().items()}
        out.update({f"text.{k}": v for k, v in self.text_tower_.state_dict().items()})
        out["log_temperature"] = torch.tensor(self.log_temperature_)
        return out

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], dim: int, hidden: int) -> ContrastiveProjection:
        """Rebuild from :meth:`state` (towers' input sizes are read from the weights)."""
        model = cls(dim=dim, hidden=hidden)
        towers = {}
        for side in ("image", "text"):
            sub = {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(side + ".")}
            tower = _Tower(sub["mean"].shape[0], dim, hidden)
            tower.load_state_dict(sub)
            towers[side] = tower.eval()
        model.image_tower_, model.text_tower_ = towers["image"], towers["text"]
        model.log_temperature_ = float(state["log_temperature"])
        return model


def retrieval_metrics(queries: np.ndarray, gallery: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Recall@1/5/10 and MRR of query i finding gallery row ``truth[i]`` (cosine on unit vectors)."""
    sims = queries @ gallery.T
    target = sims[np.arange(len(truth)), truth][:, None]
    ranks = (sims > target).sum(axis=1) + 1
    return {
        "recall_at_1": float((ranks <= 1).mean()),
        "recall_at_5": float((ranks <= 5).mean()),
        "recall_at_10": float((ranks <= 10).mean()),
        "mrr": float((1.0 / ranks).mean()),
        "queries": int(len(truth)),
        "gallery": int(len(gallery)),
    }
