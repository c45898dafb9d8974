"""Fine-tune the image encoder's top on cached block features, for all label tasks at once.

What is fine-tuned, exactly: the MBConv blocks from ``train_from`` on (none by
default), the 1x1 ``conv_head`` (320->1280 channels) and its BatchNorm — the
last stage of EfficientNet-Lite0 — plus one linear classifier per task,
jointly (summed cross-entropy, optional label smoothing). The stem and the
blocks below stay frozen at their ImageNet weights: their output is read from
the feature cache (``first_block`` = the block index the cached features feed,
:func:`shopintent.multimodal.cache.cached_trunk` with ``stop``), and frozen
blocks between the cache and ``train_from`` are run once, before the first
epoch. That is what makes training take minutes per epoch on a shared 2-core
CPU instead of hours.

Augmentation: a horizontal flip. With ``flipped`` (the cached features of the
real mirrored photos) each training row is drawn plain or mirrored at random;
without it, ``flip=True`` mirrors the cached map (an approximation: the trunk
is not exactly flip-equivariant). With ``valid`` rows the epoch is chosen on
them: the state of the best epoch on ``select_task`` is returned (accuracy of
the jointly trained classifier, averaged over both orientations when
``flipped`` is given), training stops after ``patience`` epochs without a gain,
and the per-epoch validation accuracies are kept in ``head.history_``.
``views`` adds more cached views of the same rows (random resized crops of the photos,
:mod:`shopintent.multimodal.augment`): each training row then draws the plain map, the mirrored one or
one of these, uniformly; validation still reads the plain and mirrored maps only.

Deeper fine-tuning (``train_from`` below 15) gives each trainable MBConv block its own learning
rate, ``lr * block_lr_decay ** (15 - block)``: the lower a block, the more general its ImageNet
features and the less it should move (layer-wise learning-rate decay); the last stage learns at ``lr``.
``schedule_epochs`` (> ``epochs``) keeps the cosine schedule of a longer run and stops early: how a
refit on all training products repeats the epoch count chosen on validation under the same schedule.

Cheap regularisers on the cached maps (each off by default, each chosen or rejected on validation):
``shift`` translates every training map by up to that many cells (edge-replicated pad, random crop; on a
14x14 map one cell is 16 photo pixels), ``mixup`` blends pairs of training rows and their labels
(Beta(``mixup``, ``mixup``) weights), and ``ema`` keeps an exponential moving average of the trained weights
(and BatchNorm statistics) that is what validation scores and what is returned: the average of the last
hundred-odd steps is a flatter, often better point than the last step.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from shopintent.log import get_logger
from shopintent.multimodal.encoder import EMBED_DIM, NUM_BLOCKS, HeadStage, block_features, pretrained_net

log = get_logger(__name__)


def flip_maps(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror the (n,c,h,w) maps of the rows in ``mask`` left to right (cache-side augmentation)."""
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
    flipped: np.ndarray | None = None,
    first_block: int = NUM_BLOCKS,
    train_from: int | None = None,
    label_smoothing: float = 0.0,
    patience: int | None = None,
    block_lr_decay: float = 1.0,
    schedule_epochs: int | None = None,
    shift: int = 0,
    mixup: float = 0.0,
    ema: float | None = None,
    views: Sequence[np.ndarray] = (),
) -> HeadStage:
    """Return a copy of the encoder's top fine-tuned on the ``train`` rows of every task in ``labels``.

    ``trunk``: cached features feeding block ``first_block`` (default: the 320x7x7 trunk output).
    ``labels`` maps task -> label per product ("" = unknown, ignored for that task).
    ``flipped``: the same rows' features of the mirrored photos (real flip augmentation).
    ``train_from``: the first trainable block (default ``first_block``); blocks below it stay frozen.
    ``valid`` (a mask, disjoint from ``train``): keep the epoch whose ``select_task``
    accuracy on those rows is best; ``head.history_`` lists every epoch's.
    ``block_lr_decay``: learning-rate factor per block below the last (module docstring).
    ``schedule_epochs``: the length of the cosine schedule (default ``epochs``); training stops after ``epochs``.
    ``shift``, ``mixup``, ``ema``: cache-side augmentation and weight averaging (module docstring).
    ``views``: more cached views of every row, feeding ``first_block`` like ``trunk`` (module docstring).
    """
    if valid is not None and select_task not in labels:
        raise ValueError(f"select_task {select_task!r} is not one of the label tasks {sorted(labels)}; "
                         "the epoch cannot be chosen on validation without its classifier")
    train_from = first_block if train_from is None else train_from
    if not first_block <= train_from <= NUM_BLOCKS:
        raise ValueError(f"train_from={train_from} must lie between first_block={first_block} and {NUM_BLOCKS}")
    if not 0.0 < block_lr_decay <= 1.0:
        raise ValueError(f"block_lr_decay={block_lr_decay} must lie in (0, 1]")
    if views and flipped is None:
        raise ValueError("extra training views are drawn beside the mirrored photos: pass flipped too")
    if shift < 0 or mixup < 0 or (ema is not None and not 0.0 < ema < 1.0):
        raise ValueError(f"shift={shift} and mixup={mixup} must be >= 0 and ema={ema} in (0, 1)")
    schedule_epochs = epochs if schedule_epochs is None else schedule_epochs
    if schedule_epochs < epochs:
        raise ValueError(f"schedule_epochs={schedule_epochs} is shorter than epochs={epochs}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    head = HeadStage(pretrained_net(), first_block)
    for block in head.blocks[: train_from - first_block]:
        block.requires_grad_(False)
    # the frozen blocks between the cache and train_from run once, here
    inputs = block_features(trunk, first_block, train_from, blocks=head)
    inputs_flipped = block_features(flipped, first_block, train_from, blocks=head) if flipped is not None else None
    extra = [block_features(v, first_block, train_from, blocks=head) for v in views]
    rows = np.flatnonzero(train)
    codes, classifiers = {}, nn.ModuleDict()
    for task, values in labels.items():
        values = np.asarray(values).astype(str)
        classes = np.unique(values[rows][values[rows] != ""])
        lookup = {c: i for i, c in enumerate(classes)}
        codes[task] = torch.tensor([lookup.get(v, -100) for v in values], dtype=torch.int64)
        classifiers[task] = nn.Linear(EMBED_DIM, len(classes))
    opt = torch.optim.AdamW(
        [*_block_groups(head, train_from, lr, block_lr_decay),
         {"params": classifiers.parameters(), "lr": lr * 10}],
        weight_decay=1e-4,
    )
    steps = schedule_epochs * math.ceil(len(rows) / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    average = _Ema(head, ema) if ema is not None else None
    history: list[float] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    for epoch in range(epochs):
        _train_mode(head, train_from)
        order = torch.from_numpy(rows)[torch.randperm(len(rows), generator=gen)]
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size].numpy()
            if extra:  # each row from one of its views (no plain copy first: this runs every step)
                x = _drawn_views([inputs, inputs_flipped, *extra], idx, gen)
            else:
                x = torch.from_numpy(inputs[idx].astype(np.float32))
                if flip or inputs_flipped is not None:
                    mirror = torch.rand(len(idx), generator=gen) < 0.5
                    x = (torch.where(mirror[:, None, None, None],
                                     torch.from_numpy(inputs_flipped[idx].astype(np.float32)), x)
                         if inputs_flipped is not None else flip_maps(x, mirror))
            if shift:
                x = shift_maps(x, shift, gen)
            partner, weight = torch.arange(len(idx)), 1.0
            if mixup:
                partner = torch.randperm(len(idx), generator=gen)
                weight = float(torch.distributions.Beta(mixup, mixup).sample())
                x = weight * x + (1 - weight) * x[partner]
            emb = nn.functional.dropout(head(x, start=train_from), p=0.2, training=True)
            loss = sum(
                share * nn.functional.cross_entropy(classifiers[t](emb), codes[t][idx][targets], ignore_index=-100,
                                                    label_smoothing=label_smoothing)
                for t in classifiers
                for share, targets in ((weight, torch.arange(len(idx))), (1 - weight, partner)) if share > 0
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            if average is not None:
                average.update(head)
            total += float(loss.detach()) * len(idx)
        score = float("nan")
        if valid is not None:
            scored = average.swapped(head) if average is not None else contextlib.nullcontext()
            with scored:  # with ema, the averaged weights are scored and kept
                score = _valid_accuracy(head, classifiers[select_task], inputs, inputs_flipped, codes[select_task],
                                        valid, train_from)
                if best is None or score > best[0]:
                    best = (score, epoch + 1, copy.deepcopy(head.state_dict()))
        history.append(score)
        log.info("fine-tune epoch", epoch=epoch + 1, loss=round(total / len(rows), 4), valid_accuracy=round(score, 4))
        if best is not None and patience is not None and epoch + 1 - best[1] >= patience:
            log.info("fine-tune stopped early", best_epoch=best[1], patience=patience)
            break
    if best is not None:
        head.load_state_dict(best[2])
    elif average is not None:
        head.load_state_dict(average.state)
    head.history_ = history  # type: ignore[assignment]
    head.best_epoch_ = best[1] if best is not None else len(history)  # type: ignore[assignment]
    return head.eval()


def _drawn_views(sources: list[np.ndarray], idx: np.ndarray, gen: torch.Generator) -> torch.Tensor:
    """The maps of rows ``idx``, each from one of ``sources`` (views of the same rows) drawn uniformly."""
    pick = torch.randint(len(sources), (len(idx),), generator=gen).numpy()
    x = np.empty((len(idx), *sources[0].shape[1:]), dtype=np.float32)
    for k, source in enumerate(sources):
        chosen = pick == k
        x[chosen] = source[idx[chosen]]
    return torch.from_numpy(x)


def shift_maps(x: torch.Tensor, cells: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each (c,h,w) map of ``x`` by its own random offset of up to ``cells`` cells per axis
    (edge-replicated padding, then a crop back to h x w): a cheap translation augmentation on the cache."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (cells, cells, cells, cells), mode="replicate")
    offsets = torch.randint(0, 2 * cells + 1, (n, 2), generator=gen)
    out = torch.empty_like(x)
    for dy, dx in torch.unique(offsets, dim=0).tolist():
        rows = ((offsets[:, 0] == dy) & (offsets[:, 1] == dx)).nonzero().flatten()
        out[rows] = padded[rows, :, dy : dy + h, dx : dx + w]
    return out


class _Ema:
    """Exponential moving average of a module's floating-point state (weights and BatchNorm statistics).

    The decay warms up (``min(decay, (1 + t) / (10 + t))``) so the first steps do not pin the average to
    the ImageNet start."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay, self.steps = decay, 0
        self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def update(self, module: nn.Module) -> None:
        self.steps += 1
        rate = min(self.decay, (1 + self.steps) / (10 + self.steps))
        with torch.no_grad():
            for name, value in module.state_dict().items():
                if value.is_floating_point():
                    self.state[name].mul_(rate).add_(value.detach(), alpha=1 - rate)
                else:
                    self.state[name].copy_(value)

    @contextlib.contextmanager
    def swapped(self, module: nn.Module) -> Iterator[None]:
        """Load the averaged state into ``module`` for the block, then put the trained state back."""
        trained = copy.deepcopy(module.state_dict())
        module.load_state_dict(self.state)
        try:
            yield
        finally:
            module.load_state_dict(trained)


def _block_groups(head: HeadStage, train_from: int, lr: float, decay: float) -> list[dict[str, object]]:
    """Optimiser parameter groups: each trainable MBConv block at ``lr * decay ** (15 - block)``, the last
    stage (``conv_head`` + ``bn1``) at ``lr``."""
    groups: list[dict[str, object]] = []
    last = NUM_BLOCKS - 1
    for index in range(train_from, NUM_BLOCKS):
        block = head.blocks[index - head.first_block]
        groups.append({"params": list(block.parameters()), "lr": lr * decay ** (last - index)})
    groups.append({"params": [*head.conv_head.parameters(), *head.bn1.parameters()], "lr": lr})
    return groups


def _train_mode(head: HeadStage, train_from: int) -> None:
    """Training mode for the trainable part only: frozen blocks keep their BatchNorm statistics."""
    head.train()
    for block in head.blocks[: train_from - head.first_block]:
        block.eval()


def _valid_accuracy(
    head: HeadStage, classifier: nn.Module, inputs: np.ndarray, flipped: np.ndarray | None, codes: torch.Tensor,
    valid: np.ndarray, train_from: int,
) -> float:
    """Accuracy of the jointly trained classifier on the known-label ``valid`` rows (flip-averaged if given)."""
    rows = np.flatnonzero(valid)
    rows = rows[codes[rows].numpy() >= 0]
    head.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(rows), 256):
            idx = rows[start : start + 256]
            logits = classifier(head(torch.from_numpy(inputs[idx].astype(np.float32)), start=train_from))
            if flipped is not None:
                logits = logits.log_softmax(1) + classifier(
                    head(torch.from_numpy(flipped[idx].astype(np.float32)), start=train_from)).log_softmax(1)
            correct += int((logits.argmax(1) == codes[idx]).sum())
    return correct / max(len(rows), 1)
