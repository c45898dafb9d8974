"""Fine-tune the image encoder's last stage on cached trunk features, for all label tasks at once.

What is fine-tuned, exactly: the 1x1 ``conv_head`` (320->1280 channels) and
its BatchNorm — the last stage of EfficientNet-Lite0, 0.41 M of its 4.7 M
parameters — plus one linear classifier per task, jointly (summed
cross-entropy). The stem and the 16 MBConv blocks stay frozen at their
ImageNet weights; their output is read from the cache, which is what makes
training take seconds per epoch on a CPU instead of hours.

Augmentation is computed on the cache: a horizontal flip of the 7x7 trunk
map (``flip``). The trunk is not exactly flip-equivariant, so this is an
approximation of flipping the photo, but it is free and it is what a cached
pipeline can afford. With ``valid`` rows the epoch count is chosen on them
(the state of the best epoch on ``select_task`` is returned) and the
per-epoch validation accuracies are kept in ``head.history_``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from shopintent.log import get_logger
from shopintent.multimodal.encoder import EMBED_DIM, HeadStage, pretrained_net

log = get_logger(__name__)


def flip_maps(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror the (n,c,7,7) trunk maps of the rows in ``mask`` left to right (cache-side augmentation)."""
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def finetune_head(
    trunk: np.ndarray,
    labels: Mapping[str, np.ndarray],
    train: np.ndarray,
    epochs: int = 4,
    batch_size: int = 128,
    lr: float = 3e-4,
    seed: int = 0,
    flip: bool = False,
    valid: np.ndarray | None = None,
    select_task: str = "articleType",
) -> HeadStage:
    """Return a copy of the last stage fine-tuned on the ``train`` rows of every task in ``labels``.

    ``labels`` maps task -> label per product ("" = unknown, ignored for that task).
    ``valid`` (a mask, disjoint from ``train``): keep the epoch whose ``select_task``
    accuracy on those rows is best; ``head.history_`` lists every epoch's.
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
    history: list[float] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    for epoch in range(epochs):
        head.train()
        order = torch.from_numpy(rows)[torch.randperm(len(rows), generator=gen)]
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            x = torch.from_numpy(trunk[idx.numpy()].astype(np.float32))
            if flip:
                x = flip_maps(x, torch.rand(len(idx), generator=gen) < 0.5)
            emb = nn.functional.dropout(head(x), p=0.2, training=True)
            loss = sum(
                nn.functional.cross_entropy(classifiers[t](emb), codes[t][idx], ignore_index=-100)
                for t in classifiers
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        score = _valid_accuracy(head, classifiers[select_task], trunk, codes[select_task], valid) \
            if valid is not None and select_task in classifiers else float("nan")
        history.append(score)
        if valid is not None and (best is None or score > best[0]):
            best = (score, epoch + 1, copy.deepcopy(head.state_dict()))
        log.info("fine-tune epoch", epoch=epoch + 1, loss=round(total / len(rows), 4), valid_accuracy=round(score, 4))
    if best is not None:
        head.load_state_dict(best[2])
    head.history_ = history  # type: ignore[assignment]
    head.best_epoch_ = best[1] if best is not None else epochs  # type: ignore[assignment]
    return head.eval()


def _valid_accuracy(
    head: HeadStage, classifier: nn.Module, trunk: np.ndarray, codes: torch.Tensor, valid: np.ndarray
) -> float:
    """Accuracy of the jointly trained classifier on the known-label ``valid`` rows."""
    rows = np.flatnonzero(valid)
    rows = rows[codes[rows].numpy() >= 0]
    head.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(rows), 512):
            idx = rows[start : start + 512]
            pred = classifier(head(torch.from_numpy(trunk[idx].astype(np.float32)))).argmax(1)
            correct += int((pred == codes[idx]).sum())
    return correct / max(len(rows), 1)
