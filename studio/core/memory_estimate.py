"""How much memory training a model needs, and whether this machine has that much.

The estimate is arithmetic on the model summary (weight counts and inferred output shapes), so it
allocates nothing and costs next to nothing; torch is imported only to ask a GPU what it has free.
A model that cannot fit is refused with one line before it is built, instead of dying in the
allocator halfway through.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import StudioError
from studio.core.summary import BYTES_PER_VALUE, ModelSummary, format_size, summarize
from studio.core.training_settings import TRAINING_PARAMS

if TYPE_CHECKING:
    from studio.core.graph import ModelGraph
    from studio.core.inference import GraphAnalysis

# Training keeps every layer's output for the backward pass, and their gradients take as much again.
TRAINING_ACTIVATIONS = 2
# The trainer keeps a host copy of the last good weights to roll back to, and serialises a checkpoint.
WEIGHT_COPIES = 2
ADVICE = "make layers smaller or the batch smaller"


class ModelTooBig(StudioError):
    """Training the model needs more memory than the machine (or its GPU) has."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes that training takes, by what takes them."""

    parameters: int  # weights and saved buffers
    gradients: int
    optimizer: int  # the optimizer's per-weight state (Adam's two moments, SGD's momentum)
    activations: int  # for one batch, forward and backward
    copies: int  # host copies of the weights the trainer keeps

    @property
    def total(self) -> int:
        return self.parameters + self.gradients + self.optimizer + self.activations + self.copies

    def parts(self) -> dict[str, int]:
        return {"parameters": self.parameters, "gradients": self.gradients, "optimizer state": self.optimizer,
                "activations": self.activations, "weight copies": self.copies}

    def on_gpu(self) -> dict[str, int]:
        """What a GPU run keeps on the GPU (the weights are built, copied and saved on the host)."""
        parts = self.parts()
        del parts["weight copies"]
        return parts

    def on_host_beside_gpu(self) -> dict[str, int]:
        return {"parameters": self.parameters, "weight copies": self.copies}


def describe(parts: Mapping[str, int]) -> str:
    """'about 24.10 GB (parameters 8.00 GB, gradients ...)': the parts that take any memory."""
    shown = ", ".join(f"{name} {format_size(size)}" for name, size in parts.items() if size)
    return f"about {format_size(sum(parts.values()))}" + (f" ({shown})" if shown else "")


def optimizer_slots(settings: Mapping[str, Any]) -> int:
    """Values of optimizer state kept per trainable weight."""
    name = settings["optimizer"]
    momentum = 1 if settings["momentum"] > 0 else 0
    if name in ("adam", "adamw"):
        return 2  # first and second moments
    if name == "rmsprop":
        return 1 + momentum  # the running square, plus a momentum buffer when there is momentum
    return momentum  # sgd


def estimate_counts(trainable: int, frozen: int, activation_bytes: int, settings: Mapping[str, Any], *,
                    value_bytes: int = BYTES_PER_VALUE) -> MemoryEstimate:
    """The estimate for `trainable` and `frozen` weights (buffers included) and one batch's activations."""
    s = _settings(settings)
    weights = (trainable + frozen) * value_bytes
    return MemoryEstimate(parameters=weights, gradients=trainable * value_bytes,
                          optimizer=trainable * value_bytes * optimizer_slots(s),
                          activations=activation_bytes * TRAINING_ACTIVATIONS, copies=weights * WEIGHT_COPIES)


def estimate_training(graph: ModelGraph, settings: Mapping[str, Any]) -> MemoryEstimate:
    """What training `graph` with `settings` (optimizer, batch size) needs."""
    return estimate_summary(summarize(graph), settings)


def estimate_summary(summary: ModelSummary, settings: Mapping[str, Any]) -> MemoryEstimate:
    """What training the summarised model with `settings` needs."""
    batch = _settings(settings)["batch_size"]
    activations = summary.activation_bytes(batch)
    return estimate_counts(summary.trainable, summary.non_trainable, activations, settings)


def check_fits(graph: ModelGraph, settings: Mapping[str, Any], device: Any = None) -> None:
    """ModelTooBig when training `graph` with `settings` on `device` (default: the settings' device)
    needs more memory than is available now; nothing is allocated to find out."""
    estimate = estimate_training(graph, settings)
    _refuse_if_short(estimate, _settings(settings)["device"] if device is None else device)


def check_loadable(graph: ModelGraph) -> None:
    """ModelTooBig when the machine cannot hold the model and the trained weights read for it (for
    evaluating, predicting or exporting a run); nothing is allocated to find out."""
    summary = summarize(graph)
    weights = (summary.trainable + summary.non_trainable) * BYTES_PER_VALUE
    parts = {"parameters": weights, "weights read from the file": weights}
    ram = available_memory()
    if ram is not None and sum(parts.values()) > ram:
        raise ModelTooBig(f"the model needs {describe(parts)} to load but this machine has "
                          f"{format_size(ram)} available; make layers smaller")


def check_built_model_fits(model: Any, settings: Mapping[str, Any], device: Any) -> None:
    """`check_fits` for a model already built on the host (its weights already take their share)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    frozen += sum(b.numel() for b in model.buffers())
    value_bytes = next((p.element_size() for p in model.parameters()), BYTES_PER_VALUE)
    estimate = estimate_counts(trainable, frozen, 0, settings, value_bytes=value_bytes)
    _refuse_if_short(estimate, device, built=True)


def _refuse_if_short(estimate: MemoryEstimate, device: Any, *, built: bool = False) -> None:
    gpu = _cuda_index(device)
    host = estimate.parts() if gpu is None else estimate.on_host_beside_gpu()
    ram = available_memory()
    if ram is not None:
        ram += estimate.parameters if built else 0  # what the machine had before the weights were made
        if sum(host.values()) > ram:
            raise ModelTooBig(_too_big(host, f"this machine has {format_size(ram)} available"))
    if gpu is not None:
        free = cuda_free_memory(gpu)
        if free is not None and sum(estimate.on_gpu().values()) > free:
            raise ModelTooBig(_too_big(estimate.on_gpu(), f"the GPU cuda:{gpu} has {format_size(free)} free"))


def _too_big(parts: Mapping[str, int], has: str) -> str:
    return f"the model needs {describe(parts)} to train but {has}; {ADVICE}"


@contextlib.contextmanager
def out_of_memory_as_error(graph: ModelGraph, settings: Mapping[str, Any],
                           device: Any = None) -> Iterator[None]:
    """Turn the allocator running out of memory inside the block (building a model) into ModelTooBig."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        estimate = estimate_training(graph, settings)
        gpu = _cuda_index(_settings(settings)["device"] if device is None else device)
        parts = estimate.parts() if gpu is None else estimate.on_gpu()
        raise ModelTooBig(f"the model ran out of memory while it was built: it needs {describe(parts)} to "
                          f"train; {ADVICE}") from None


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is an allocator giving up (host or GPU), not another failure."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        words in text for words in ("out of memory", "can't allocate memory", "not enough memory",
                                    "cannot allocate memory"))


def weight_problems(graph: ModelGraph, analysis: GraphAnalysis) -> list[tuple[str, str]]:
    """(node id, message) for the largest layers, when the weights alone exceed this machine's memory:
    as many layers, largest first, as it takes for the rest to fit. Cheap: it runs on every edit."""
    limit = total_memory()
    total = sum(info.params + info.buffers for info in analysis.nodes.values()) * BYTES_PER_VALUE
    if limit is None or total <= limit:
        return []
    sizes = {nid: (info.params + info.buffers) * BYTES_PER_VALUE for nid, info in analysis.nodes.items()}
    problems = []
    for nid in sorted(sizes, key=sizes.__getitem__, reverse=True):
        if total - sum(sizes[n] for n, _ in problems) <= limit:
            break
        info = analysis.nodes[nid]
        problems.append((nid, f"holds {info.params + info.buffers:,} weights ({format_size(sizes[nid])}): "
                              f"the model's weights alone need about {format_size(total)}, more than this "
                              f"machine's {format_size(limit)} of memory; make this layer smaller"))
    return problems


# -- what the machine has -------------------------------------------------------------------------

_MEMINFO = Path("/proc/meminfo")
_CGROUP = Path("/sys/fs/cgroup")


@functools.cache
def total_memory() -> int | None:
    """The machine's memory in bytes (read once: it does not change while the studio runs)."""
    return _meminfo("MemTotal") or _sysconf_pages("SC_PHYS_PAGES")


def available_memory() -> int | None:
    """Memory a new allocation can have now, in bytes (within a container's limit); None when unknown."""
    free = _meminfo("MemAvailable") or _sysconf_pages("SC_AVPHYS_PAGES")
    limit = _cgroup_room()
    if free is None:
        return limit
    return free if limit is None else min(free, limit)


def cuda_free_memory(index: int) -> int | None:
    """Free memory of GPU `index` in bytes; None when it cannot be asked."""
    try:
        import torch

        return int(torch.cuda.mem_get_info(index)[0])
    except Exception:  # no CUDA, no such GPU, a driver error: the trainer reports those itself
        return None


def _meminfo(field: str) -> int | None:
    try:
        for line in _MEMINFO.read_text().splitlines():
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0]) * 1024  # given in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_pages(name: str) -> int | None:
    try:
        pages, size = os.sysconf(name), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not on Windows and macOS (SC_AVPHYS_PAGES)
        return None
    return pages * size if pages > 0 and size > 0 else None


def _cgroup_room() -> int | None:
    """Bytes left under a cgroup v2 memory limit; None without one."""
    try:
        limit = (_CGROUP / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((_CGROUP / "memory.current").read_text()))
    except (OSError, ValueError):
        return None


def _cuda_index(device: Any) -> int | None:
    """The CUDA device index training on `device` uses; None for the CPU and MPS (host memory)."""
    text = str(device or "auto").strip().lower()
    if text == "auto":
        import torch

        return torch.cuda.current_device() if torch.cuda.is_available() else None
    if not text.startswith("cuda"):
        return None
    _, _, index = text.partition(":")
    if index.isdigit():
        return int(index)
    import torch

    return torch.cuda.current_device() if torch.cuda.is_available() else 0


def _settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {**TRAINING_PARAMS.defaults(), **settings}
