"""Training-resume checkpoints without pickle: tensors in safetensors, everything else in JSON.

Why: ``torch.save`` of a dict holding an optimiser, a NumPy generator and the
training state comes back only through torch's full unpickler, which runs
code from the file — and a checkpoint folder is a path the user gives.
Here a checkpoint is a model directory of :mod:`shopintent.persist`'s format
(``checkpoint/`` under the checkpoint folder): ``tensors.safetensors`` holds
the network, the best epoch's network, the optimiser's tensors and torch's
RNG state; ``state.json`` the epoch counters, history, NumPy generator state
and the optimiser's scalars; ``manifest.json`` is written last. A new
checkpoint is written beside the old one and swapped in, so a process killed
mid-write leaves the previous checkpoint (or none), never half of one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shopintent.log import get_logger
from shopintent.persist import (
    MANIFEST_FILE,
    begin_save,
    load_tensors,
    read_json,
    read_model_json,
    save_tensors,
    write_json,
    write_manifest,
    write_model_json,
)

log = get_logger(__name__)

FORMAT_VERSION = 1
KIND = "training_checkpoint"
CHECKPOINT = "checkpoint"
#: The file older shopintent versions wrote (a pickle): never loaded, only reported.
LEGACY_FILE = "checkpoint.pt"


def save_checkpoint(folder: Path, network: torch.nn.Module, optimiser: torch.optim.Optimizer,
                    state: dict[str, Any], rng: np.random.Generator, record: dict[str, Any]) -> Path:
    """Write ``folder/checkpoint/`` (replacing the previous one once the new one is complete).

    ``state`` is the training loop's dict (``epoch``, ``best``, ``best_epoch``,
    ``best_state`` (a state dict or ``None``), ``history``, ``seconds``);
    ``record`` what a resume must match (data checksum, parameters).
    """
    folder = Path(folder)
    partial = folder / f"{CHECKPOINT}.partial"
    if partial.exists():
        shutil.rmtree(partial)  # a write cut short earlier
    begin_save(partial)
    tensors = {f"network.{k}": v for k, v in network.state_dict().items()}
    if state.get("best_state") is not None:
        tensors.update({f"best.{k}": v for k, v in state["best_state"].items()})
    optimiser_state = optimiser.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in optimiser_state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimiser.{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    tensors["torch_rng"] = torch.get_rng_state()
    save_tensors(partial / "tensors.safetensors", tensors)
    write_json(partial / "state.json", {
        **{k: v for k, v in state.items() if k != "best_state"},
        "has_best_state": state.get("best_state") is not None,
        "numpy_rng": rng.bit_generator.state,
        "optimiser_param_groups": optimiser_state["param_groups"],
        "optimiser_scalars": scalars,
    })
    write_model_json(partial, KIND, FORMAT_VERSION, _plain_json(record.get("params", {})),
                     data_checksum=record.get("data_checksum", ""))
    write_manifest(partial)
    target = folder / CHECKPOINT
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    return target


def load_checkpoint(folder: Path, network: torch.nn.Module, optimiser: torch.optim.Optimizer,
                    record: dict[str, Any]) -> tuple[dict[str, Any], np.random.Generator] | None:
    """Restore ``network`` and ``optimiser`` from ``folder/checkpoint/``; return ``(state, rng)``.

    ``None`` (train from the start) when there is no finished checkpoint, when
    it was made on other data or parameters, or when only an older pickle
    checkpoint exists (it is never loaded). A checkpoint whose files changed
    after it was written raises :class:`~shopintent.persist.ModelFileError`.
    """
    folder = Path(folder)
    target = folder / CHECKPOINT
    if (folder / LEGACY_FILE).is_file():
        log.warning("older pickle checkpoint ignored (never loaded); training starts over",
                    checkpoint=str(folder / LEGACY_FILE))
    if not (target / MANIFEST_FILE).is_file():
        return None
    meta = read_model_json(target, KIND, FORMAT_VERSION,
                           retrain="delete the checkpoint folder and train again")
    if meta["data_checksum"] != record.get("data_checksum") or \
            meta["parameters"] != _plain_json(record.get("params", {})):
        log.warning("checkpoint ignored: other data or parameters", checkpoint=str(target))
        return None
    tensors = load_tensors(target / "tensors.safetensors")
    saved = read_json(target / "state.json")
    network.load_state_dict(_prefixed(tensors, "network."))
    optimiser_state: dict[str, Any] = {"state": {}, "param_groups": saved["optimiser_param_groups"]}
    for key, value in tensors.items():
        if key.startswith("optimiser."):
            _, index, name = key.split(".", 2)
            optimiser_state["state"].setdefault(int(index), {})[name] = value
    for index, values in saved["optimiser_scalars"].items():
        optimiser_state["state"].setdefault(int(index), {}).update(values)
    optimiser.load_state_dict(optimiser_state)
    torch.set_rng_state(tensors["torch_rng"])
    rng_state = saved["numpy_rng"]
    if rng_state.get("bit_generator") != "PCG64":
        raise ValueError(f"{target / 'state.json'}: numpy_rng is not a PCG64 state")
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = rng_state
    state = {k: v for k, v in saved.items()
             if k not in ("has_best_state", "numpy_rng", "optimiser_param_groups", "optimiser_scalars")}
    state["best_state"] = _prefixed(tensors, "best.") if saved["has_best_state"] else None
    return state, rng


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _plain_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so records compare equal."""
    return json.loads(json.dumps(value))
