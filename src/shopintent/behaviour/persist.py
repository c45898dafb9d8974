"""The model directory every behaviour estimator writes: ``model.json`` beside its weights.

``model.json`` holds the package version, the estimator's class and
hyper-parameters, the SHA-256 of the data it was fitted on and its held-out
metrics, so a model found on disk says what it is and how good it was.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopintent import __version__

FORMAT_VERSION = 1


def frame_checksum(*frames: pd.DataFrame | pd.Series | np.ndarray) -> str:
    """A SHA-256 of the values a model saw (row order matters), for ``model.json``."""
    digest = hashlib.sha256()
    for frame in frames:
        if isinstance(frame, np.ndarray):
            digest.update(np.ascontiguousarray(frame).tobytes())
        else:
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def write_model_json(path: Path, kind: str, parameters: dict[str, Any], data_checksum: str,
                     metrics: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Create ``path`` and write its ``model.json``."""
    path.mkdir(parents=True, exist_ok=True)
    record = {
        "format_version": FORMAT_VERSION,
        "shopintent_version": __version__,
        "kind": kind,
        "parameters": parameters,
        "data_checksum": data_checksum,
        "metrics": metrics,
        **(extra or {}),
    }
    (path / "model.json").write_text(json.dumps(record, indent=2, default=_plain) + "\n")


def read_model_json(path: Path, kind: str) -> dict[str, Any]:
    """Read ``path/model.json`` and check it holds a ``kind`` model of a format we read."""
    target = Path(path) / "model.json"
    if not target.is_file():
        raise FileNotFoundError(f"{path} holds no model.json; is it a directory written by save()?")
    record = json.loads(target.read_text())
    if record.get("kind") != kind:
        raise ValueError(f"{target} holds a {record.get('kind')!r} model, not {kind!r}")
    if record.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{target}: format version {record.get('format_version')} is not "
                         f"{FORMAT_VERSION}; retrain the model with this shopintent version")
    return record


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to model.json")
