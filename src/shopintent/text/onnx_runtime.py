"""ONNX Runtime export of a fine-tuned text classifier, int8 where it keeps the answers.

Why: torch spends most of a short query's time in Python-side dispatch;
ONNX Runtime runs the same graph as one fused call, and dynamic int8
quantisation of the weight matrices makes the matrix products cheaper still.
Quantisation is only kept when it changes (almost) no decision: the export
compares the int8 graph's top class with torch's on the caller's check texts
and falls back to float32 when they agree on fewer than ``min_agreement`` of
them. The report says which was kept.

Running an exported graph (:class:`OnnxNetwork`) needs NumPy and ONNX Runtime
only: torch is imported by :func:`export_network` alone, so a service
answering on ONNX never loads it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopintent.log import get_logger

if TYPE_CHECKING:
    from torch import nn

log = get_logger(__name__)

FP32_FILE = "network.onnx"
INT8_FILE = "network.int8.onnx"


@dataclass
class ExportReport:
    """What the export wrote and how closely each graph reproduces torch."""

    path: Path
    int8: bool
    fp32_max_abs_diff: float
    int8_agreement: float | None
    fp32_accuracy: float | None = None
    int8_accuracy: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "int8": self.int8,
            "fp32_max_abs_diff": self.fp32_max_abs_diff,
            "int8_agreement": self.int8_agreement,
            "fp32_accuracy": self.fp32_accuracy,
            "int8_accuracy": self.int8_accuracy,
        }


class OnnxNetwork:
    """An exported network run by ONNX Runtime: ``(ids, mask)`` int64 arrays → logits."""

    def __init__(self, path: Path | str, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(path)
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"ids": ids, "mask": mask})[0]


def export_network(
    network: nn.Module,
    pad,  # type: ignore[no-untyped-def]
    check_rows: list[list[int]],
    directory: Path,
    int8: bool = True,
    check_targets: np.ndarray | None = None,
    max_accuracy_drop: float = 0.005,
    min_agreement: float = 0.995,
) -> ExportReport:
    """Write ``network.onnx``, and ``network.int8.onnx`` when quantisation keeps the answers.

    ``pad`` turns id lists into ``(ids, mask)`` tensors; ``check_rows`` are
    tokenised texts (e.g. validation rows) the graphs are compared on. With
    ``check_targets`` (class index per row, -1 for rows of no class) int8 is
    kept when its accuracy is at most ``max_accuracy_drop`` below float32's;
    without, when its top class agrees with torch on ``min_agreement`` of rows.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class _Wrapper(torch.nn.Module):
        """Positional ``(ids, mask)`` → logits, what ``torch.onnx.export`` traces."""

        def __init__(self, network: nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.network(ids, mask)

    directory.mkdir(parents=True, exist_ok=True)
    network = network.eval()
    sample = pad(check_rows[:2] if len(check_rows) >= 2 else [[1, 2], [1]])
    fp32_path = directory / FP32_FILE
    with torch.inference_mode():
        torch.onnx.export(
            _Wrapper(network).eval(),  # export restores the wrapper's mode on the network: keep it eval
            sample,
            str(fp32_path),
            input_names=["ids", "mask"],
            output_names=["logits"],
            dynamic_axes={"ids": {0: "batch", 1: "length"}, "mask": {0: "batch", 1: "length"}},
            opset_version=17,
            dynamo=False,
        )
    reference, fp32_out = [], []
    fp32 = OnnxNetwork(fp32_path)
    batches = [check_rows[i : i + 64] for i in range(0, len(check_rows), 64)]
    with torch.inference_mode():
        for batch in batches:
            ids, mask = pad(batch)
            reference.append(network(ids, mask).numpy())
            fp32_out.append(fp32(ids.numpy(), mask.numpy()))
    ref = np.concatenate(reference) if reference else np.zeros((0, 1))
    diff = float(np.abs(ref - np.concatenate(fp32_out)).max()) if reference else 0.0
    report = ExportReport(fp32_path, False, diff, None)
    if not int8:
        return report
    int8_path = directory / INT8_FILE
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser warns on the root logger for every integer tensor
    try:
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    quantised = OnnxNetwork(int8_path)
    int8_top = np.concatenate(
        [quantised(*(t.numpy() for t in pad(batch))) for batch in batches]
    ).argmax(axis=1) if batches else np.zeros(0)
    agreement = float((int8_top == ref.argmax(axis=1)).mean()) if batches else 1.0
    report.int8_agreement = agreement
    if check_targets is not None and batches:
        report.fp32_accuracy = float((ref.argmax(axis=1) == check_targets).mean())
        report.int8_accuracy = float((int8_top == check_targets).mean())
        keep = report.int8_accuracy >= report.fp32_accuracy - max_accuracy_drop
    else:
        keep = agreement >= min_agreement
    if keep:
        report.path, report.int8 = int8_path, True
    else:
        int8_path.unlink()
        log.info("int8 export dropped: it changes too many answers", **report.as_dict())
    log.info("onnx export", **report.as_dict())
    return report
