"""The image encoder as ONNX, run with onnxruntime: ~3x faster than eager torch on a busy CPU.

Why: both the feature cache (thousands of images) and live ``POST /v1/products``
spend nearly all their time in the frozen trunk. The exported graph is the
same weights; ``tests/multimodal/test_onnx.py`` checks it returns what torch
returns on real product photos.

int8: :func:`quantize_int8` writes a statically quantised copy (QLinear operators, per-channel
int8 weights, activations calibrated on real training photos). It is only an
option: the benchmark keeps it only if the articleType accuracy of its
embeddings stays within 0.5 point of the float model's (issue 17).
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from shopintent.log import get_logger
from shopintent.multimodal.encoder import ImageEncoder, Trunk, pretrained_net

log = get_logger(__name__)

OPSET = 17
_LOCK = threading.Lock()
_SESSIONS: dict[tuple[str, int], object] = {}


def export(module: nn.Module, path: Path) -> Path:
    """Write ``module`` (image batch in, one tensor out) as ONNX with a dynamic batch axis."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    example = torch.zeros(2, 3, 224, 224)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), (example,), str(tmp), input_names=["image"], output_names=["output"],
            dynamic_axes={"image": {0: "n"}, "output": {0: "n"}}, dynamo=False, opset_version=OPSET,
        )
    tmp.replace(path)
    log.info("image encoder exported", path=str(path))
    return path


def trunk_path(state_dir: Path, stop: int | None = None) -> Path:
    """Where the state folder keeps the exported frozen trunk (the first ``stop`` blocks; default all)."""
    name = "trunk.onnx" if stop is None else f"trunk-{stop}.onnx"
    return Path(state_dir) / "multimodal" / "onnx" / name


def ensure_trunk(state_dir: Path, stop: int | None = None) -> Path:
    """The exported trunk (first ``stop`` blocks) of this state folder, exported on first use."""
    path = trunk_path(state_dir, stop)
    with _LOCK:
        if not path.is_file():
            export(Trunk(pretrained_net(), stop), path)
    return path


def export_encoder(path: Path, encoder: ImageEncoder | None = None) -> Path:
    """Export the whole image encoder (trunk + head stage -> 1280-d embedding)."""
    return export(encoder if encoder is not None else ImageEncoder(), path)


def quantize_int8(model: Path, out: Path, calibration: np.ndarray, batch_size: int = 16) -> Path:
    """Statically quantise an exported encoder to int8 (QLinear operators, per-channel weights).

    ``calibration`` is a (n,3,224,224) float32 batch of preprocessed *training* photos; their
    activation ranges fix the int8 scales (MinMax), so no test photo shapes the model.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if len(calibration) == 0:
        raise ValueError("quantize_int8 needs at least one calibration photo")

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._batches = iter(
                [{"image": calibration[i : i + batch_size].astype(np.float32)}
                 for i in range(0, len(calibration), batch_size)]
            )

        def get_next(self):  # type: ignore[no-untyped-def]
            return next(self._batches, None)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_static(
        str(model), str(out), _Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )
    log.info("image encoder quantised to int8", path=str(out), calibration_photos=len(calibration))
    return out


def session(path: Path, threads: int = 1):  # type: ignore[no-untyped-def]
    """A cached onnxruntime session for ``path`` with ``threads`` intra-op threads."""
    import onnxruntime as ort

    key = (str(path), threads)
    with _LOCK:
        if key not in _SESSIONS:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            _SESSIONS[key] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return _SESSIONS[key]


def run(path: Path, images: np.ndarray, threads: int = 1) -> np.ndarray:
    """Run an exported encoder on a (n,3,224,224) float32 batch."""
    return session(path, threads).run(None, {"image": images.astype(np.float32)})[0]
