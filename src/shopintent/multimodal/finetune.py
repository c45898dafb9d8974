"""Fine-tune the image encoder's last stage on cached trunk features, for all label tasks at once.

What is fine-tuned, exactly: the 1x1 ``conv_head`` (320->1280 channels) and
its BatchNorm — the last stage of EfficientNet-Lite0, 0.41 M of its 4.7 M
parameters — plus one linear classifier per task, jointly (summed
cross-entropy). The stem and the 16 MBConv blocks stay frozen at their
ImageNet weights; their output is read from the cache, which is what makes
training take seconds per epoch on a CPU instead of hours.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from shopintent.log import get_logger
from shopintent.multimodal.encoder import EMBED_DIM, HeadStage, pretrained_net

log = get_logger(__name__)


def finetune_head(
    trunk: np.ndarray,
    labels: Mapping[str, np.ndarray],
    train: np.ndarray,
    epochs: int = 4,
    batch_size: int = 128,
    lr: float = 3e-4,
    seed: int = 0,
) -> HeadStage:
    """Return a copy of the last stage fine-tuned on the ``train`` rows of every task in ``labels``.

    ``labels`` maps task -> label per product ("" = unknown, ignored for that task).
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    head = HeadStage(pretrained_net())
    rows = np.flatnonzero(train)
    codes, classifiers = {}, nn.ModuleDict()
    for task, values in labels.items():
        values = np.asarray(values).astype(str)
        classes = np.unique(values[rows][values[rows] != ""])
        lookup = {c: i for i, c in enumerate(classes)}
        codes[task] = torch.tensor([lookup.get(v, -100) for v in values], dtype=torch.int64)
        classifiers[task] = nn.Linear(EMBED_DIM, len(classes))
    opt = torch.optim.AdamW(
        [{"params": head.parameters(), "lr": lr}, {"params": classifiers.parameters(), "lr": lr * 10}],
        weight_decay=1e-4,
    )
    head.train()
    for epoch in range(epochs):
        order = torch.from_numpy(rows)[torch.randperm(len(rows), generator=gen)]
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            x = torch.from_numpy(trunk[idx.numpy()].astype(np.float32))
            emb = nn.functional.dropout(head(x), p=0.2, training=True)
            loss = sum(
                nn.functional.cross_entropy(classifiers[t](emb), codes[t][idx], ignore_index=-100)
                for t in classifiers
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        log.info("fine-tune epoch", epoch=epoch + 1, loss=round(total / len(rows), 4))
    return head.eval()
