"""Which precision a run trains in: autocast on CUDA, and bfloat16 on CPUs that do it natively.

On a CPU, bfloat16 pays only where the cores have bf16 instructions (AVX512-BF16 or AMX); elsewhere it
is emulated and slower than float32. Whether it pays here is decided once per machine by a short
self-check (a small convolution forward and backward, timed in both precisions) and cached in the
user's cache folder, keyed by the CPU model and the torch version. "auto" picks bfloat16 for
convolutional models only: that is what the check measures, and small dense or recurrent models gain
little speed from it (their steps are mostly overhead) while losing precision. The `cpu_precision`
training setting overrides the decision.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any

import torch
from torch import nn

from studio.core.atomic import write_atomic
from studio.core.safe_io import FileRefused, read_regular
from studio.train.devices import autocast_dtype

CACHE_NAME = "precision.json"
CACHE_LIMIT = 1 << 16  # bytes read at most: the file holds one small entry per machine and torch
CPUINFO_LIMIT = 1 << 24  # /proc/cpuinfo repeats every core's flags: megabytes on large machines
CHECK_REPEATS = 5  # timed steps per precision, interleaved; the fastest of each is compared
MIN_SPEEDUP = 1.1  # bfloat16 must beat float32 by this factor, so timing noise cannot tip a tie
NATIVE_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 flags in /proc/cpuinfo; ARM lists "bf16"

_NAMES = {torch.bfloat16: "bfloat16", torch.float16: "float16"}
_decided: dict[tuple[str, str], bool] = {}  # (cache file, machine key) -> bfloat16 pays, this process


def training_dtype(device: torch.device, settings: Mapping[str, Any], model: nn.Module) -> torch.dtype | None:
    """The autocast dtype `model` trains in on `device` with `settings`; None for plain float32."""
    if not settings["mixed_precision"]:
        return None
    if device.type == "cuda":
        return autocast_dtype(device)
    if device.type == "cpu":
        choice = settings["cpu_precision"]
        if choice == "bfloat16" or (choice == "auto" and is_convolutional(model) and cpu_bfloat16_pays()):
            return torch.bfloat16
    return None


def is_convolutional(model: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) for m in model.modules())


def precision_name(dtype: torch.dtype | None) -> str:
    """"bfloat16", "float16" or "float32": how a run record names its precision."""
    return _NAMES.get(dtype, "float32")


def cpu_bfloat16_pays() -> bool:
    """Whether this CPU trains faster in bfloat16 than in float32: decided once, then read from the cache.

    A cache that cannot be read or written is ignored (the check then runs again in each process)."""
    path = cache_path()
    key = machine_key()
    memo = (str(path), key)
    if memo in _decided:
        return _decided[memo]
    entries = _read_cache(path)
    entry = entries.get(key)
    if isinstance(entry, dict) and isinstance(entry.get("bfloat16"), bool):
        pays = entry["bfloat16"]
    else:
        entry = check_cpu()
        pays = entry["bfloat16"]
        _write_cache(path, {**entries, key: entry})
    _decided[memo] = pays
    return pays


def check_cpu() -> dict[str, Any]:
    """The self-check's findings: {"bfloat16": pays, "native": flags say so, "float32_ms", "bfloat16_ms"}.

    A CPU whose flags show no native bf16 is not timed: emulated bf16 is always the slower."""
    native = _native_bf16()
    found: dict[str, Any] = {"bfloat16": False, "native": native,
                             "checked": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if native is False:
        return found
    try:
        fp32, bf16, finite = _time_conv_steps()
    except RuntimeError:  # a build without CPU bf16 kernels
        return found
    found.update(float32_ms=round(fp32 * 1e3, 3), bfloat16_ms=round(bf16 * 1e3, 3),
                 bfloat16=bool(finite and bf16 * MIN_SPEEDUP < fp32))
    return found


def cache_path() -> Path:
    """$XDG_CACHE_HOME/model-studio/precision.json (~/.cache without it; %LOCALAPPDATA% on Windows)."""
    base = os.environ.get("XDG_CACHE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
    folder = Path(base) if base else Path.home() / ".cache"
    return folder / "model-studio" / CACHE_NAME


def machine_key() -> str:
    """What the decision depends on: the CPU model and the torch version."""
    return f"{_cpu_model()} | torch {torch.__version__}"


def _cpu_model() -> str:
    for line in _cpuinfo().splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("model name", "Model", "Hardware") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def _native_bf16() -> bool | None:
    """True or False where /proc/cpuinfo lists the CPU's flags; None where it cannot be known."""
    for line in _cpuinfo().splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            flags = set(value.split())
            return bool(flags & {*NATIVE_FLAGS, "bf16"})
    return None


def _cpuinfo() -> str:
    try:
        return read_regular("/proc/cpuinfo", "CPU description", limit=CPUINFO_LIMIT).decode(errors="replace")
    except (OSError, FileRefused):
        return ""


def _time_conv_steps() -> tuple[float, float, bool]:
    """(float32 seconds, bfloat16 seconds, bfloat16 finite) for one step of a small convolution.

    Runs on one thread, where other work on the machine disturbs the timing least, and leaves the
    random generators as they were (a run's seed must not depend on whether the check ran)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            conv = nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
            x = torch.randn(16, 64, 16, 16).contiguous(memory_format=torch.channels_last)
            best = {False: math.inf, True: math.inf}
            finite = True
            for round_ in range(CHECK_REPEATS + 1):  # the first round builds the kernels, untimed
                for bf16 in (False, True):
                    began = perf_counter()
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        loss = conv(x).float().square().mean()
                    conv.zero_grad(set_to_none=True)
                    loss.backward()
                    spent = perf_counter() - began
                    if round_:
                        best[bf16] = min(best[bf16], spent)
                    if bf16:
                        finite = finite and bool(loss.isfinite()) and bool(conv.weight.grad.isfinite().all())
    finally:
        torch.set_num_threads(threads)
    return best[False], best[True], finite


def _read_cache(path: Path) -> dict[str, Any]:
    """The cached entries, or none when the file is missing, unreadable or damaged."""
    try:
        data = json.loads(read_regular(path, "precision cache", limit=CACHE_LIMIT))
    except (OSError, FileRefused, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, entries: dict[str, Any]) -> None:
    """Best effort: a cache folder that cannot be written only means the check runs again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(entries, indent=1, sort_keys=True) + "\n"
        write_atomic(path, text.encode(), what="precision cache")
    except (OSError, FileRefused, ValueError):
        pass
