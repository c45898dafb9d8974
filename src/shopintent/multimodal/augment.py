"""Seeded random resized crops of decoded photos: extra training views whose trunk features can be cached.

Why: the encoder's top is fine-tuned on cached block maps (:mod:`shopintent.multimodal.finetune`), so the
only augmentations it had were the mirrored photo and one-cell shifts of the map. A crop of the photo,
resized back to the input side, is the classic image-level augmentation (Inception's "random resized
crop"): the object appears at another scale and position, which a map shift cannot imitate. Running the
frozen trunk on a crop costs as much as on the photo, so a fixed number of crops per photo (views
``1..k``) is computed once and cached like the plain features (:func:`shopintent.multimodal.cache.cached_trunk`
with ``crop``); training then draws among the plain, mirrored and cropped views of each row.

Each view is a pure function of the file's name and the view number (a SHA-256-seeded generator), so a
cache shard can be recomputed, or a single photo re-encoded, and give the same crop.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch

#: fraction of the photo's area a crop keeps, and its aspect-ratio range (width / height)
CROP_SCALE = (0.64, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)


def crop_box(height: int, width: int, rng: np.random.Generator,
             scale: tuple[float, float] = CROP_SCALE, ratio: tuple[float, float] = CROP_RATIO,
             ) -> tuple[int, int, int, int]:
    """(top, left, crop height, crop width) of a random crop with area ``scale`` and aspect ``ratio``
    (log-uniform), clipped to the photo: the sampling of torchvision's RandomResizedCrop, without its retries."""
    area = height * width * rng.uniform(*scale)
    aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
    crop_w = min(width, max(1, round(math.sqrt(area * aspect))))
    crop_h = min(height, max(1, round(math.sqrt(area / aspect))))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    return top, left, crop_h, crop_w


def crop_view(image: np.ndarray, name: str, view: int) -> np.ndarray:
    """The ``view``-th (>= 1) crop of a decoded (3, h, w) photo, resized back to (3, h, w), mirrored with
    probability one half; deterministic in (``name``, ``view``).

    >>> photo = np.random.default_rng(0).normal(size=(3, 224, 224)).astype(np.float32)
    >>> a, b = crop_view(photo, "15970.jpg", 1), crop_view(photo, "15970.jpg", 1)
    >>> a.shape, bool((a == b).all()), bool((a == crop_view(photo, "15970.jpg", 2)).all())
    ((3, 224, 224), True, False)
    """
    if view < 1:
        raise ValueError(f"crop view {view}: views are numbered from 1 (0 is the photo itself)")
    seed = int.from_bytes(hashlib.sha256(f"{name}\0{view}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    _, height, width = image.shape
    top, left, crop_h, crop_w = crop_box(height, width, rng)
    window = torch.from_numpy(np.ascontiguousarray(image[:, top : top + crop_h, left : left + crop_w]))
    resized = torch.nn.functional.interpolate(window[None], size=(height, width), mode="bilinear",
                                              align_corners=False, antialias=True)[0].numpy()
    if rng.random() < 0.5:
        resized = resized[:, :, ::-1]
    return np.ascontiguousarray(resized, dtype=np.float32)
