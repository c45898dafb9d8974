"""How fast the image encoder trains on this CPU, by how much of it is trained: what a fine-tuning recipe costs.

Why: the multimodal bench fine-tunes EfficientNet-Lite0's top on cached block maps
(:mod:`shopintent.multimodal.finetune`). Whether a deeper recipe (more blocks, or the whole backbone on
augmented photos) fits a session on the 2-core CPU is a question of training images per second, measured
here per first trained block on random 224-px inputs (speed does not depend on the pixels): one optimiser
step (forward, backward, AdamW) on a batch, the frozen part below the first trained block not run at all
(it is cached; for the whole backbone nothing is cached and the photo goes through every layer). From the
median rate it derives the minutes per epoch over the bench's 6,132 fit products and a 10-epoch fit plus a
10-epoch refit on all 7,666 training products (the kept recipe's shape). Run::

    .venv/bin/python -m benchmarks.finetune_speed --threads 2 --batch-size 32 --out benchmarks/results/finetune_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from shopintent.evaluation.bench import machine_info
from shopintent.multimodal.encoder import HeadStage, pretrained_net, trunk_shape
from shopintent.multimodal.images import IMAGE_SIZE

#: the bench's fit products and training products (fit + validation), multimodal.json parameters
FIT_PRODUCTS, TRAIN_PRODUCTS, EPOCHS = 6132, 7666, 10
#: first trained MBConv block; 0 = the whole backbone from the photo (stem included)
FIRST_BLOCKS = (0, 5, 8, 11, 15)


def images_per_second(first_block: int, batch_size: int, steps: int) -> list[float]:
    """Training images per second of ``steps`` optimiser steps (after one warm-up step)."""
    if first_block == 0:
        model: torch.nn.Module = pretrained_net()
        shape: tuple[int, ...] = (3, IMAGE_SIZE, IMAGE_SIZE)

        def forward(x: torch.Tensor) -> torch.Tensor:
            return model(x)
    else:
        model = HeadStage(pretrained_net(), first_block)
        shape = trunk_shape(first_block)

        def forward(x: torch.Tensor) -> torch.Tensor:
            return model(x, start=first_block)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch_size, *shape)
    rates = []
    for step in range(steps + 1):
        started = time.perf_counter()
        loss = forward(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step:  # the first step allocates and is not timed
            rates.append(round(batch_size / (time.perf_counter() - started), 1))
    return rates


def derived_times(rate: float) -> dict[str, float]:
    """Seconds per epoch over the fit products, and for a fit plus a refit of ``EPOCHS`` epochs each, at ``rate``."""
    return {"fit_epoch_seconds": round(FIT_PRODUCTS / rate, 1),
            "fit_and_refit_seconds": round(EPOCHS * (FIT_PRODUCTS + TRAIN_PRODUCTS) / rate),
            "fit_and_refit_hours": round(EPOCHS * (FIT_PRODUCTS + TRAIN_PRODUCTS) / rate / 3600, 2)}


def main() -> None:
    """Measure every first block, write the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/finetune_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows: dict[str, Any] = {}
    for first in FIRST_BLOCKS:
        rates = images_per_second(first, args.batch_size, args.steps)
        rate = statistics.median(rates)
        name = "whole backbone (photo in)" if first == 0 else f"blocks {first}-15 + last stage (cached maps in)"
        rows[name] = {
            "first_trained_block": first, "input": list(trunk_shape(first)) if first else [3, IMAGE_SIZE, IMAGE_SIZE],
            "train_images_per_second": rates, "median": rate,
            **derived_times(rate),
        }
    record = {
        "what": "training speed of EfficientNet-Lite0 by first trained block (benchmarks/finetune_speed.py docstring)",
        "command": f"python -m benchmarks.finetune_speed --threads {args.threads} --batch-size {args.batch_size} "
                   f"--steps {args.steps}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "loadavg_1min_before": round(os.getloadavg()[0], 2),
        "torch_threads": args.threads, "batch_size": args.batch_size,
        "fit_products": FIT_PRODUCTS, "train_products": TRAIN_PRODUCTS, "epochs": EPOCHS,
        "rows": rows,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
