"""Weights as safetensors and training state as a weights-only `.pt` file, both written atomically.

Nothing here pickles code: weights files hold tensors only, and the state file holds only tensors,
dicts, lists, numbers and strings, so it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from studio.core.atomic import write_atomic
from studio.train.errors import TrainingError

LAST_WEIGHTS = "last.safetensors"
BEST_WEIGHTS = "best.safetensors"
STATE_FILE = "last.ckpt.pt"

StateDict = dict[str, torch.Tensor]


def cpu_state_dict(model: nn.Module) -> StateDict:
    """An independent CPU copy of the model's weights, contiguous (channels-last weights included)."""
    return {name: value.detach().to("cpu", memory_format=torch.contiguous_format, copy=True)
            for name, value in model.state_dict().items()}


def save_weights(model: nn.Module | StateDict, path: str | os.PathLike, *,
                 metadata: dict[str, str] | None = None) -> None:
    """Write a model's weights (or a CPU state dict) to a safetensors file, atomically."""
    state = cpu_state_dict(model) if isinstance(model, nn.Module) else model
    write_atomic(path, safetensors_bytes(state, metadata=metadata))


def read_weights(path: str | os.PathLike) -> StateDict:
    """The tensors of a safetensors file, on the CPU; TrainingError naming the file when unreadable."""
    try:
        return load_file(str(path), device="cpu")
    except FileNotFoundError:
        raise TrainingError(f"weights file '{path}' does not exist") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise TrainingError(f"weights file '{path}' cannot be read: {exc}") from None


def load_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Load a safetensors file into `model` (on whatever device it is); names must match exactly."""
    apply_state_dict(model, read_weights(path), source=f"weights file '{path}'")


def apply_state_dict(model: nn.Module, state: StateDict, *, source: str = "the weights") -> None:
    """`model.load_state_dict` with a message a user can act on when the shapes or names differ."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = [f"missing {_few(missing)}" if missing else "",
                 f"unexpected {_few(unexpected)}" if unexpected else "",
                 f"different shapes: {_few(wrong)}" if wrong else ""]
        raise TrainingError(f"{source} do not fit this model: " + "; ".join(p for p in parts if p))
    model.load_state_dict(state)


def save_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write training state (optimizer, schedule, RNG, history) atomically as a weights-only file."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, buffer.getvalue())


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training-state file without running any code from it."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainingError(f"training state '{path}' does not exist; there is nothing to resume") from None
    except Exception as exc:  # unpickling errors come in many types
        raise TrainingError(f"training state '{path}' cannot be read: {exc}") from None


def rng_state(device: torch.device) -> dict[str, Any]:
    """The random generators' state (dropout, augmentation), so a resumed run draws the same numbers."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}


def restore_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_paths(folder: str | os.PathLike) -> dict[str, Path]:
    folder = Path(folder)
    return {"last": folder / LAST_WEIGHTS, "best": folder / BEST_WEIGHTS, "state": folder / STATE_FILE}


def json_metadata(**values: Any) -> dict[str, str]:
    """Safetensors metadata must be str -> str; structured values are kept readable as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def _few(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
