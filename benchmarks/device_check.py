"""The Trainer against a hand-written loop on a CUDA device, with mixed precision on and off.

    python3 benchmarks/device_check.py [--device cuda|cpu] [--quick] [--repeats N] [--budget-s S]

Cases: the digits CNN (projects/digits_cnn.studio, batch 32) and the slides' cats-vs-dogs CNN
(projects/cats_vs_dogs.studio, batch 20) on generated 150x150x3 shapes, each with the project's settings,
channels-last, in float32 and under autocast (bfloat16 where the device does it natively). For each: the
device's name, samples per second of the Trainer and of a hand-written loop in this process (same model,
same starting weights, same precision and layout; the data on the device whole, as the Trainer holds it
when it fits; a validation pass each epoch), the best of interleaved repeats, and their ratio (target
>= 0.97). A run stops adding repeats once its time budget is spent, so it ends in about four minutes on
one GPU. Without a CUDA device it prints one line and exits 2; `--device cpu --quick` runs every code path
on a CPU in seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# bench_trainer's helpers are shared, not copied; `autocast` there is the CPU's, so the loop below has its
# own for any device.
from bench_trainer import TARGET_RATIO, as_input, loss_of, make_optimizer, trainer_run  # noqa: E402

from studio.core.build import build_model  # noqa: E402
from studio.core.project import load_project  # noqa: E402
from studio.data import load_dataset  # noqa: E402
from studio.train.devices import autocast_dtype  # noqa: E402
from studio.train.precision import machine_key, precision_name  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    project: str
    data: object
    epochs: int  # a measurement: enough that one lasts well past launch and start-up costs


def mixed_dtype(device: torch.device) -> torch.dtype:
    """What mixed precision computes in on `device`: the Trainer's choice on a GPU, bfloat16 on a CPU."""
    return autocast_dtype(device) if device.type == "cuda" else torch.bfloat16


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hand_loop(model, data, settings: dict, dtype: torch.dtype | None, binary: bool, epochs: int,
              device: torch.device) -> float:
    """Epochs as a careful hand-written loop runs them on `device`: data there whole, channels-last, the
    loss summed on the device and read once an epoch, a validation pass each epoch; samples/s."""
    model.to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, settings)
    x, y = data.train_x.to(device), data.train_y.to(device)
    val_x = data.val_x.to(device)
    batch = settings["batch_size"]
    cast = torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(x.shape[0], device=device)
        total = torch.zeros((), device=device)
        for i in range(0, x.shape[0], batch):
            index = order[i:i + batch]
            with cast:
                loss = loss_of(model(as_input(x[index])), y[index], binary)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        total.item()
        model.eval()
        with torch.no_grad(), cast:
            for i in range(0, val_x.shape[0], batch):
                model(as_input(val_x[i:i + batch]))
    synchronize(device)
    return epochs * x.shape[0] / (time.perf_counter() - start)


def best_of_rounds(runs: dict[str, Callable[[], float]], repeats: int, deadline: float) -> dict[str, float]:
    """The fastest of each run over interleaved rounds after a warm-up round; the order alternates each
    round. Rounds stop at `repeats` or, after at least one counted round, at `deadline`."""
    seen: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeats + 1):
        names = list(runs) if round_ % 2 else list(runs)[::-1]
        for name in names:
            seen[name].append(runs[name]())
        if round_ >= 1 and time.perf_counter() > deadline:
            break
    return {name: max(values[1:]) for name, values in seen.items()}


def check(case: Case, device: torch.device, repeats: int, seconds: float) -> list[float]:
    """One line per precision for `case`, each adding rounds for `seconds` at most; returns the ratios."""
    project = load_project(ROOT / "projects" / case.project)
    settings = {**project.training, "device": str(device), "channels_last": True,
                "threads": torch.get_num_threads() if device.type == "cpu" else 0}
    binary = settings["loss"] == "binary_cross_entropy"
    torch.manual_seed(0)
    model = build_model(project.graph, logits=True)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    data = case.data
    plural = "s" if case.epochs > 1 else ""
    print(f"{case.name}: {data.train_x.shape[0]} training and {data.val_x.shape[0]} validation samples, "
          f"batch {settings['batch_size']}, {case.epochs} epoch{plural} a measurement")

    def from_start(run: Callable[..., float], *args) -> Callable[[], float]:
        """`run(*args)`, each time from the same starting weights."""
        def measured() -> float:
            model.load_state_dict(initial)
            return run(*args)
        return measured

    ratios = []
    for mixed in (False, True):
        dtype = mixed_dtype(device) if mixed else None
        precision = precision_name(dtype)
        runs = {"Trainer": from_start(trainer_run, model, data, {**settings, "mixed_precision": mixed},
                                      precision, case.epochs),
                "loop": from_start(hand_loop, model, data, settings, dtype, binary, case.epochs, device)}
        best = best_of_rounds(runs, repeats, time.perf_counter() + seconds)
        ratio = best["Trainer"] / best["loop"]
        verdict = "OK" if ratio >= TARGET_RATIO else "BELOW TARGET"
        print(f"  mixed precision {'on ' if mixed else 'off'} ({precision}): "
              f"Trainer {best['Trainer']:9.1f} samples/s | hand-written loop {best['loop']:9.1f} samples/s | "
              f"ratio {ratio:.3f} {verdict} | {device_name(device)}")
        ratios.append(ratio)
    return ratios


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return machine_key().split(" | ")[0]


def cases(quick: bool) -> list[Case]:
    """The digits CNN and the slides' CNN on 150x150x3 shapes; tiny for `quick`."""
    shapes = load_dataset("shapes", {"n_samples": 30 if quick else 500, "classes": 2,
                                     "image_size": [150, 150], "channels": "3"})
    digits = load_dataset("digits", {})
    if quick:
        digits.train_x, digits.train_y = digits.train_x[:96], digits.train_y[:96]
        digits.val_x, digits.val_y = digits.val_x[:32], digits.val_y[:32]
    return [Case("digits CNN", "digits_cnn.studio", digits, 1 if quick else 20),
            Case("slides' CNN 150x150x3", "cats_vs_dogs.studio", shapes, 1 if quick else 20)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (the default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny data, one epoch, one counted round")
    parser.add_argument("--repeats", type=int, default=3, help="counted rounds after a warm-up round")
    parser.add_argument("--budget-s", type=float, default=180.0, help="no new rounds after this many seconds")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 2
    started = time.perf_counter()
    repeats = 1 if args.quick else args.repeats
    print(f"torch {torch.__version__} on {device_name(device)} ({device})")
    ratios = []
    checks = cases(args.quick)
    for case in checks:  # each case and precision gets an equal share of the budget
        ratios += check(case, device, repeats, args.budget_s / (2 * len(checks)))
    print(f"done in {time.perf_counter() - started:.0f} s; lowest ratio {min(ratios):.3f}")
    return 0 if min(ratios) >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
