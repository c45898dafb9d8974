"""Test-time views of cached block maps: embeddings averaged over one-cell shifts (and the mirrored photo).

Why: the fine-tune recipe trains on randomly shifted cached maps
(:func:`shopintent.multimodal.finetune.shift_maps`, edge-replicated padding then a crop), so at test time the
same shifts are views the head has learnt to read; averaging the embeddings of several views is inference
only (no training), like the flip averaging of :func:`shopintent.multimodal.encoder.head_embeddings`.

A view is an offset ``(dy, dx)`` in cells, applied exactly as in training: pad by one cell with the edge
values, then crop back to the map's size at that offset. ``(0, 0)`` is the plain map. This module lives apart
from ``finetune.py`` and ``encoder.py`` because the fine-tuned-head cache keys on those two files' code: an
inference-only option must not invalidate heads that were trained without it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from shopintent.log import get_logger
from shopintent.multimodal.encoder import EMBED_DIM, HeadStage
from shopintent.persist import load_arrays, save_arrays

log = get_logger(__name__)

#: the plain map and its four edge neighbours (one cell up, down, left, right)
CROSS_SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
#: the plain map and all eight one-cell neighbours (diagonals included)
RING_SHIFTS: tuple[tuple[int, int], ...] = tuple((dy, dx) for dy in (0, -1, 1) for dx in (0, -1, 1))
#: named view sets: what the bench's ``FinetuneRecipe.test_shifts`` and the validation choice refer to
SHIFT_SETS: dict[int, tuple[tuple[int, int], ...]] = {0: ((0, 0),), 4: CROSS_SHIFTS, 8: RING_SHIFTS}


def shift_view(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """The (n,c,h,w) maps translated by ``(dy, dx)`` cells (|dy|, |dx| <= 1), edge-replicated as in training.

    Content moves by ``-dy``/``-dx``: the crop window starts at ``1 + dy``, ``1 + dx`` of the padded map, the
    same window ``shift_maps`` takes for offset ``(1 + dy, 1 + dx)``."""
    if max(abs(dy), abs(dx)) > 1:
        raise ValueError(f"view offset ({dy}, {dx}) is more than one cell")
    if dy == 0 and dx == 0:
        return x
    _, _, h, w = x.shape
    padded = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    return padded[:, :, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]


def view_embeddings(
    maps: np.ndarray, head: HeadStage, shifts: tuple[tuple[int, int], ...] = ((0, 0),),
    flipped: np.ndarray | None = None, batch_size: int = 256,
) -> np.ndarray:
    """Pooled embeddings of ``maps`` (the cached input of ``head``'s first block) averaged over the ``shifts``
    views, and over the same views of the ``flipped`` maps (the mirrored photos' features) when given.

    With ``shifts=((0, 0),)`` this is ``head_embeddings(maps, head, flipped=flipped)``."""
    if not shifts:
        raise ValueError("at least one view is needed")
    head.eval()
    sources = [maps] if flipped is None else [maps, flipped]
    out = np.zeros((len(maps), EMBED_DIM), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(maps), batch_size):
            total = None
            for source in sources:
                chunk = torch.from_numpy(source[start : start + batch_size].astype(np.float32))
                for dy, dx in shifts:
                    emb = head(shift_view(chunk, dy, dx))
                    total = emb if total is None else total + emb
            assert total is not None
            out[start : start + len(total)] = (total / (len(sources) * len(shifts))).numpy()
    return out


def cached_view_embeddings(
    state_dir: Path, key: dict[str, Any], maps: np.ndarray, head: HeadStage,
    shifts: tuple[tuple[int, int], ...] = ((0, 0),), flipped: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`view_embeddings`, each (view, photo or mirrored photo) pass read from or saved to ``state_dir``.

    ``key`` names the head and the maps (the bench passes its fine-tuned-head key). Why per view: one pass
    over the catalogue costs a minute or two on the shared CPU, and the validation choice (plain, flip,
    flip + 4 shifts, flip + 8 shifts) and the measured run need the same passes of the same head; cached
    one by one, a larger view set reuses a smaller one's and nothing is computed twice."""
    folder = Path(state_dir) / "multimodal" / "views"
    sources = [("plain", maps)] if flipped is None else [("plain", maps), ("mirrored", flipped)]
    total = np.zeros((len(maps), EMBED_DIM), dtype=np.float32)
    for name, source in sources:
        for dy, dx in shifts:
            view = {**key, "source": name, "shift": [dy, dx], "rows": len(maps)}
            digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()[:24]
            file = folder / f"{digest}.safetensors"
            if file.is_file():
                emb = load_arrays(file)["embeddings"]
            else:
                emb = view_embeddings(source, head, ((dy, dx),))
                folder.mkdir(parents=True, exist_ok=True)
                save_arrays(file, {"embeddings": emb})
                log.info("view embeddings computed", source=name, shift=[dy, dx], rows=len(maps))
            total += emb
    return total / (len(sources) * len(shifts))
