"""Real photos' cached trunk maps for the fine-tuning tests, computed the way the cache computes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shopintent.multimodal.cache import encode_paths


def block_maps(products: pd.DataFrame, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The float16 maps feeding block ``stop`` of ``products``' photos, plain and mirrored
    (:func:`shopintent.multimodal.cache.encode_paths`, what ``cached_trunk`` stores)."""
    paths = [Path(p) for p in products["path"]]
    plain, ok, _ = encode_paths(paths, stop=stop)
    mirrored, _, _ = encode_paths(paths, stop=stop, flip=True)
    assert ok.all(), "a test photo did not decode"
    return plain, mirrored
