"""Where training runs: listing the devices this machine has and resolving a device setting."""

from __future__ import annotations

import os

import torch

from studio.train.errors import TrainingError


def device_choices() -> list[tuple[str, str]]:
    """(device, description) for each device this machine can train on, best first.

    For example ``[("cuda:0", "NVIDIA H200"), ("cpu", "CPU (16 cores)")]``.
    """
    choices = [(f"cuda:{i}", torch.cuda.get_device_name(i)) for i in range(_cuda_count())]
    if _mps_available():
        choices.append(("mps", "Apple GPU"))
    choices.append(("cpu", f"CPU ({cpu_count()} cores)"))
    return choices


def resolve_device(name: str) -> torch.device:
    """The torch device for a setting: "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:N", "mps".

    Raises TrainingError when the device asked for is not on this machine.
    """
    name = (name or "auto").strip().lower()
    if name == "auto":
        if _cuda_count():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TrainingError(f"unknown device {name!r}; choose auto, cpu, cuda or mps",
                            setting="device") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        count = _cuda_count()
        if not count:
            why = "this PyTorch was built without CUDA" if torch.version.cuda is None else \
                "no CUDA GPU is visible (no device, or no driver)"
            raise TrainingError(f"CUDA was asked for but {why}; choose 'auto' or 'cpu'", setting="device")
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= count:
            raise TrainingError(f"there is no GPU cuda:{index}; this machine has {count}", setting="device")
        return torch.device("cuda", index)
    if device.type == "mps":
        if not _mps_available():
            raise TrainingError("an Apple GPU (MPS) was asked for but this machine has none; "
                                "choose 'auto' or 'cpu'", setting="device")
        return device
    raise TrainingError(f"training on {device.type!r} devices is not supported; choose auto, cpu, cuda "
                        "or mps", setting="device")


def autocast_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 where the GPU does it natively (no loss scaling needed), else float16."""
    with torch.cuda.device(device):
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.bfloat16 if native else torch.float16


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
