"""The model directory every behaviour estimator writes, in :mod:`shopintent.persist`'s one format.

``model.json`` holds the package version, the estimator's kind and
hyper-parameters, the SHA-256 of the data it was fitted on and its held-out
metrics, so a model found on disk says what it is and how good it was; the
weights sit beside it (LightGBM model text, safetensors, JSON) and
``manifest.json``, written last, lets ``load`` refuse a changed or foreign
file. A save is ``begin_save(path)``, the weight files, then
:func:`finish_save`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopintent import persist
from shopintent.persist import begin_save

__all__ = ["FORMAT_VERSION", "RETRAIN", "begin_save", "finish_save", "frame_checksum", "read_model_json"]

FORMAT_VERSION = 1
#: The command quoted when a saved behaviour model is refused.
RETRAIN = "shopintent behaviour train"


def frame_checksum(*frames: pd.DataFrame | pd.Series | np.ndarray) -> str:
    """A SHA-256 of the values a model saw (row order matters), for ``model.json``."""
    digest = hashlib.sha256()
    for frame in frames:
        if isinstance(frame, np.ndarray):
            digest.update(np.ascontiguousarray(frame).tobytes())
        else:
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def finish_save(path: Path, kind: str, parameters: dict[str, Any], data_checksum: str,
                metrics: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write ``path/model.json`` and then the manifest: the last step of every behaviour save."""
    persist.write_model_json(path, kind, FORMAT_VERSION, parameters, data_checksum=data_checksum,
                             metrics=metrics, **(extra or {}))
    persist.write_manifest(path)
    return path


def read_model_json(path: Path, kind: str) -> dict[str, Any]:
    """Verify ``path`` against its manifest, then read its ``model.json`` (a ``kind`` model of our format)."""
    return persist.read_model_json(path, kind, FORMAT_VERSION, retrain=RETRAIN)
