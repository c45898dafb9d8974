"""A torch module's weights as named numpy arrays in a scorer's saved state, and back.

The trained assist scorers (dual encoder, tuned MiniLM) save their weights beside their
hyper-parameters as plain arrays (no pickle); a prefix keeps several modules apart in one file.
"""

from __future__ import annotations

import numpy as np
import torch


def module_arrays(prefix: str, module: torch.nn.Module) -> dict[str, np.ndarray]:
    """``module``'s state as arrays named ``prefix + parameter name``."""
    return {f"{prefix}{name}": value.detach().numpy() for name, value in module.state_dict().items()}


def prefixed_state(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The arrays saved under ``prefix`` as a state dict for ``load_state_dict`` (copied: saved arrays may be read-only)."""
    return {name[len(prefix):]: torch.from_numpy(np.array(value, copy=True))
            for name, value in arrays.items() if name.startswith(prefix)}
