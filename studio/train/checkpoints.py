"""Weights as safetensors and training state as a weights-only `.pt` file, both written atomically.

Nothing here pickles code: weights files hold tensors only, and the state file holds only tensors,
dicts, lists, numbers and strings, so it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from studio.core.atomic import write_atomic
from studio.core.safe_io import FileRefused, open_regular, reason, regular_file
from studio.train.errors import DamagedCheckpoint, TrainingError
from studio.train.record import LAST_WEIGHTS
from studio.train.state import StateDamage

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
    """The tensors of a safetensors file, on the CPU; TrainingError naming the file when unreadable.

    A pipe, device or folder in its place is refused at once, before anything tries to read it."""
    try:
        regular_file(path, "weights file")
    except FileRefused as exc:
        raise TrainingError(str(exc)) from None
    try:
        return load_file(str(path), device="cpu")
    except FileNotFoundError:
        raise TrainingError(f"weights file '{path}' does not exist") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise TrainingError(f"weights file '{path}' cannot be read: {_unreadable(exc)}") from None


def _unreadable(exc: Exception) -> str:
    """Why safetensors could not read a file, without the library's own phrasing of it."""
    if isinstance(exc, OSError):
        return reason(exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    detail = text.removeprefix("Error while deserializing header: ").strip()
    return f"not a whole safetensors file ({detail})" if detail else "not a whole safetensors file"


def load_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Load a safetensors file into `model` (on whatever device it is); names must match exactly."""
    apply_state_dict(model, read_weights(path), source=f"weights file '{path}'")


def apply_state_dict(model: nn.Module, state: StateDict, *, source: str = "the weights") -> None:
    """`model.load_state_dict` with a message a user can act on when the weights do not fit."""
    model.load_state_dict(fitted_state_dict(model, state, source=source))


def fitted_state_dict(model: nn.Module, state: StateDict, *, source: str = "the weights") -> StateDict:
    """`state` checked to fit `model` (same names and shapes) and converted to the model's dtypes;
    TrainingError saying what differs. Nothing is loaded, so a caller can check before it changes
    anything.

    Floating-point tensors of another precision (float16, bfloat16, float64) are converted; whole
    numbers or flags where the model has fractional weights (or the other way round) are refused,
    since converting them would quietly give the model other weights than the file's."""
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
    fitted = {}
    for name, mine in own.items():  # in the model's order, so the first layer at fault is named
        value, target = state[name], mine.dtype
        if value.dtype != target and value.is_floating_point() != target.is_floating_point:
            raise TrainingError(f"{source}: tensor '{name}' holds {_values(value.dtype)} where the model has "
                                f"{_values(target)}")
        fitted[name] = value.to(target) if value.dtype != target else value
    return fitted


def _values(dtype: torch.dtype) -> str:
    """A dtype in words: 'int8 whole numbers', 'float32 fractional values'."""
    name = str(dtype).removeprefix("torch.")
    if dtype == torch.bool:
        return "true/false flags"
    return f"{name} fractional values" if dtype.is_floating_point else f"{name} whole numbers"


def save_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write training state (optimizer, schedule, RNG, history) atomically as a weights-only file."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, buffer.getvalue())


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training-state file without running any code from it.

    TrainingError when there is none; DamagedCheckpoint naming the checkpoint folder when it is not a
    regular file, cannot be read, is truncated, or holds anything but tensors and plain data."""
    path = Path(path)
    try:
        handle = open_regular(path, "training state")
    except FileRefused as exc:
        if not os.path.lexists(path):
            raise TrainingError(f"training state '{path}' does not exist; there is nothing to resume") \
                from None
        raise DamagedCheckpoint(path.parent, f"{path.name} {_after_path(exc, path)}") from None
    try:
        with handle:
            data = handle.read()
    except OSError as exc:
        raise DamagedCheckpoint(path.parent, f"{path.name} cannot be read: {reason(exc)}") from None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise DamagedCheckpoint(path.parent, f"{path.name} holds objects other than tensors and plain "
                                                 "data, so it was not loaded") from None
        raise DamagedCheckpoint(path.parent, f"{path.name} is truncated or not a training state") from None
    except Exception:  # a truncated or foreign file fails in many ways inside the unpickler
        raise DamagedCheckpoint(path.parent, f"{path.name} is truncated or not a training state") from None
    if not isinstance(state, dict):
        raise DamagedCheckpoint(path.parent, f"{path.name} is not a training state")
    return state


def _after_path(exc: FileRefused, path: Path) -> str:
    """What a refusal says of the file, without its leading name and path ('is a named pipe, ...')."""
    return str(exc).split(f"'{path}' ", 1)[-1]


def rng_state(device: torch.device) -> dict[str, Any]:
    """The random generators' state (dropout, augmentation), so a resumed run draws the same numbers."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}


def check_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """StateDamage unless `state` (from `rng_state`) can be restored on `device`."""
    cpu = state["cpu"]
    size = torch.get_rng_state().numel()
    if cpu.dtype != torch.uint8 or cpu.dim() != 1 or cpu.numel() != size:
        raise StateDamage(f"the random generator state has {cpu.numel()} values where {size} belong")
    if device.type == "cuda" and len(state["cuda"]) > torch.cuda.device_count():
        raise StateDamage(f"the random generator state is for {len(state['cuda'])} GPUs; this machine has "
                          f"{torch.cuda.device_count()}")


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
