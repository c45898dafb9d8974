"""Title and query embeddings: the multilingual USE encoder of :mod:`shopintent.text`, used read-only.

Why USE: it maps Chinese and English into one 512-d space, so a projection
trained on English catalogue titles also serves Chinese queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shopintent.text.encoders import get_encoder

TEXT_ENCODER = "use"
TEXT_DIM = 512


def embed_texts(texts: Sequence[str], state_dir: Path | None = None) -> np.ndarray:
    """L2-normalised (n, 512) USE embeddings, cached in the state folder's text cache when given."""
    return np.asarray(get_encoder(TEXT_ENCODER, state_dir).encode(list(texts)), dtype=np.float32)
