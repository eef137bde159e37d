"""The Trainer against a plain hand-written PyTorch loop, on the same model, data and machine.

    .venv/bin/python benchmarks/bench_trainer.py [--repeats N] [--seed-samples N]

Cases: (a) the slides' cats-vs-dogs CNN at 150x150x3, batch 20, on generated images, and (b) the
digits CNN. For each: samples per second of the plain loop and of the Trainer over one epoch (training
and a validation pass), median of interleaved repeats, and their ratio (target >= 0.97). Also the seed
CNN's plain-loop throughput in the default memory layout and channels-last.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F  # noqa: N812

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core.build import build_model  # noqa: E402
from studio.core.project import load_project  # noqa: E402
from studio.data import load_dataset  # noqa: E402
from studio.train import Trainer  # noqa: E402

TARGET_RATIO = 0.97


def plain_epoch(model, data, settings, *, channels_last: bool) -> float:
    """One epoch the way a tutorial writes it; returns samples per second."""
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory)
    optimizer = _optimizer(model, settings)
    binary = data.info.num_outputs == 2 and settings["loss"] == "binary_cross_entropy"
    x, y = data.train_x.contiguous(memory_format=memory), data.train_y
    batch = settings["batch_size"]
    start = time.perf_counter()
    model.train()
    order = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        index = order[i:i + batch]
        out = model(x[index])
        target = y[index]
        loss = (F.binary_cross_entropy_with_logits(out.squeeze(1), target.float()) if binary
                else F.cross_entropy(out, target))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for i in range(0, data.val_x.shape[0], batch):
            model(data.val_x[i:i + batch].contiguous(memory_format=memory))
    return x.shape[0] / (time.perf_counter() - start)


def trainer_epoch(model, data, settings) -> float:
    trainer = Trainer(model, data, {**settings, "epochs": 1})
    start = time.perf_counter()
    result = trainer.fit()
    elapsed = time.perf_counter() - start
    assert result.status == "completed", result.message
    return data.train_x.shape[0] / elapsed


def _optimizer(model, settings):
    lr = settings["learning_rate"]
    if settings["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=lr, momentum=0.0)
    return torch.optim.Adam(model.parameters(), lr=lr)


def compare(name: str, project_file: str, data, repeats: int, channels_last: bool) -> float:
    project = load_project(ROOT / "projects" / project_file)
    settings = {**project.training, "device": "cpu", "threads": torch.get_num_threads(),
                "channels_last": channels_last}
    torch.manual_seed(0)
    model = build_model(project.graph, logits=True)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    plain, studio = [], []
    for _ in range(repeats + 1):  # the first round warms caches up and is not counted
        model.load_state_dict(initial)
        plain.append(plain_epoch(model, data, settings, channels_last=channels_last))
        model.load_state_dict(initial)
        studio.append(trainer_epoch(model, data, settings))
    plain_rate, studio_rate = statistics.median(plain[1:]), statistics.median(studio[1:])
    ratio = studio_rate / plain_rate
    print(f"{name}: plain loop {plain_rate:8.1f} samples/s | Trainer {studio_rate:8.1f} samples/s | "
          f"ratio {ratio:.3f} (target >= {TARGET_RATIO}) {'OK' if ratio >= TARGET_RATIO else 'BELOW TARGET'}")
    return ratio


def layouts(data, repeats: int) -> None:
    project = load_project(ROOT / "projects" / "cats_vs_dogs.studio")
    settings = {**project.training, "device": "cpu"}
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats):
        for channels_last in (False, True):
            torch.manual_seed(0)
            model = build_model(project.graph, logits=True)
            rates[channels_last].append(plain_epoch(model, data, settings, channels_last=channels_last))
    default, last = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"seed CNN layout: default {default:.1f} samples/s ({1000 * 20 / default:.0f} ms/step of 20) | "
          f"channels-last {last:.1f} samples/s ({1000 * 20 / last:.0f} ms/step) | "
          f"speed-up {last / default:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed-samples", type=int, default=400, help="generated 150x150 training images")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    shapes = load_dataset("shapes", {"n_samples": int(args.seed_samples / 0.8), "classes": 2,
                                     "image_size": [150, 150], "channels": "3"})
    digits = load_dataset("digits", {})
    ratios = [compare("seed CNN 150x150x3, batch 20", "cats_vs_dogs.studio", shapes, args.repeats, True),
              compare("digits CNN, batch 32", "digits_cnn.studio", digits, args.repeats, True)]
    layouts(shapes, args.repeats)
    return 0 if min(ratios) >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
