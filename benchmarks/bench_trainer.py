"""The Trainer against a plain hand-written PyTorch loop, in the same precision and layout, on this machine.

    .venv/bin/python benchmarks/bench_trainer.py [--repeats N] [--seed-samples N] [--digits-epochs N]
        [--precisions float32 bfloat16] [--threads N]

Cases: the slides' cats-vs-dogs CNN at 150x150x3, batch 20, on generated shapes, and the digits CNN,
batch 32, each in float32 and in bfloat16 (CPU autocast), channels-last. For each: samples per second of
the plain loop and of the Trainer over one epoch (training and a validation pass), the best of
interleaved repeats (other work on a shared machine only ever slows a run down, so the fastest is the
truest), and their ratio (target >= 0.97). Also the machine's measured peak (a 2048x2048 matmul in
each precision, by torch.mm and as a 1x1 convolution), the FLOPs of one training sample (counted on a
forward and backward pass) and so the share of the peak each run reaches, and the bfloat16 over
float32 speed of each CNN.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F  # noqa: N812
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core.build import build_model  # noqa: E402
from studio.core.project import load_project  # noqa: E402
from studio.data import load_dataset  # noqa: E402
from studio.train import Trainer  # noqa: E402
from studio.train.precision import machine_key  # noqa: E402

TARGET_RATIO = 0.97
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def autocast(precision: str):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16")


def as_input(x: torch.Tensor) -> torch.Tensor:
    """Byte pixels become 0..1 floats, batch by batch, as the Trainer feeds them."""
    x = x.float().mul_(1 / 255) if x.dtype == torch.uint8 else x
    return x.contiguous(memory_format=torch.channels_last)


def loss_of(out: torch.Tensor, target: torch.Tensor, binary: bool) -> torch.Tensor:
    if binary:
        return F.binary_cross_entropy_with_logits(out.squeeze(1), target.float())
    return F.cross_entropy(out, target)


def make_optimizer(model: torch.nn.Module, settings: dict) -> torch.optim.Optimizer:
    lr = settings["learning_rate"]
    if settings["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=lr, momentum=settings["momentum"])
    return torch.optim.Adam(model.parameters(), lr=lr)


def plain_run(model, data, settings: dict, precision: str, binary: bool, epochs: int) -> float:
    """Epochs the way a tutorial writes them, channels-last, each with a validation pass; samples/s."""
    model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, settings)
    x, y = data.train_x, data.train_y
    batch = settings["batch_size"]
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], batch):
            index = order[i:i + batch]
            with autocast(precision):
                loss = loss_of(model(as_input(x[index])), y[index], binary)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()  # the Trainer reads every loss on a CPU, and so does any loop that logs one
        model.eval()
        with torch.no_grad(), autocast(precision):
            for i in range(0, data.val_x.shape[0], batch):
                model(as_input(data.val_x[i:i + batch]))
    return epochs * x.shape[0] / (time.perf_counter() - start)


def trainer_run(model, data, settings: dict, precision: str, epochs: int) -> float:
    trainer = Trainer(model, data, {**settings, "epochs": epochs, "cpu_precision": precision})
    assert trainer.precision == precision, trainer.precision
    start = time.perf_counter()
    result = trainer.fit()
    elapsed = time.perf_counter() - start
    assert result.status == "completed", result.message
    return epochs * data.train_x.shape[0] / elapsed


def flops_per_sample(model, data, settings: dict, binary: bool) -> float:
    """FLOPs of one training sample: a forward and backward pass on one batch, counted, over its size."""
    batch = settings["batch_size"]
    x, y = as_input(data.train_x[:batch]), data.train_y[:batch]
    counter = FlopCounterMode(display=False)
    with counter:
        loss_of(model(x), y, binary).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / x.shape[0]


def peak_gflops(precision: str, size: int = 2048, repeats: int = 20) -> tuple[float, str]:
    """This machine's practical peak in `precision`, in GFLOP/s, and the kernel that reached it: the fastest
    of a few size x size matmuls, run both by torch.mm (MKL for float32) and as a 1x1 convolution (oneDNN,
    the library the CNNs' convolutions run in; MKL is far from the peak on some CPUs)."""
    dtype = DTYPES[precision]
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    image = a.reshape(1, size, 32, size // 32).contiguous(memory_format=torch.channels_last)
    kernel = b.reshape(size, size, 1, 1).contiguous(memory_format=torch.channels_last)
    kernels = {"matmul": lambda: torch.mm(a, b), "1x1 convolution": lambda: F.conv2d(image, kernel)}
    rates = {}
    for name, run in kernels.items():
        run()  # builds the kernels
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        rates[name] = 2 * size ** 3 / best / 1e9
    fastest = max(rates, key=rates.__getitem__)
    return rates[fastest], fastest


@dataclass
class Row:
    case: str
    precision: str
    plain: float  # samples per second
    trainer: float
    flops: float  # per training sample

    @property
    def ratio(self) -> float:
        return self.trainer / self.plain


def compare(name: str, project_file: str, data, repeats: int, precisions: list[str],
            epochs: int) -> list[Row]:
    """The Trainer against the plain loop in each precision, `epochs` epochs a measurement; a line each."""
    project = load_project(ROOT / "projects" / project_file)
    settings = {**project.training, "device": "cpu", "threads": torch.get_num_threads(),
                "channels_last": True}
    binary = settings["loss"] == "binary_cross_entropy"
    torch.manual_seed(0)
    model = build_model(project.graph, logits=True)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    flops = flops_per_sample(model, data, settings, binary)
    print(f"{name}: {flops / 1e9:.3f} GFLOP per training sample (forward and backward), "
          f"{epochs} epoch{'s' if epochs > 1 else ''} a measurement")
    rows = []
    for precision in precisions:
        runs = {"plain": lambda p=precision: plain_run(model, data, settings, p, binary, epochs),
                "trainer": lambda p=precision: trainer_run(model, data, settings, p, epochs)}
        seen: dict[str, list[float]] = {"plain": [], "trainer": []}
        for round_ in range(repeats + 1):  # the first round warms caches up and is not counted
            # Which goes first alternates, so neither always runs on caches the other warmed.
            for who in ("plain", "trainer") if round_ % 2 else ("trainer", "plain"):
                model.load_state_dict(initial)
                seen[who].append(runs[who]())
        row = Row(name, precision, max(seen["plain"][1:]), max(seen["trainer"][1:]), flops)
        verdict = "OK" if row.ratio >= TARGET_RATIO else "BELOW TARGET"
        print(f"  {precision:8s}: plain loop {row.plain:8.1f} samples/s | Trainer {row.trainer:8.1f} "
              f"samples/s | ratio {row.ratio:.3f} {verdict}")
        rows.append(row)
    if len(rows) == 2:
        print(f"  bfloat16 vs float32: {rows[1].trainer / rows[0].trainer:.2f}x the samples per second")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed-samples", type=int, default=400, help="generated 150x150 training images")
    parser.add_argument("--digits-epochs", type=int, default=5, help="epochs a measurement (one is 0.1 s)")
    parser.add_argument("--precisions", nargs="+", choices=tuple(DTYPES), default=list(DTYPES))
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = every core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = machine_key().split(" | ")[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {cpu}")
    before = {p: peak_gflops(p) for p in args.precisions}
    shapes = load_dataset("shapes", {"n_samples": int(args.seed_samples / 0.8), "classes": 2,
                                     "image_size": [150, 150], "channels": "3"})
    digits = load_dataset("digits", {})
    rows = (compare("slides' CNN 150x150x3, batch 20", "cats_vs_dogs.studio", shapes, args.repeats,
                    args.precisions, 1)
            + compare("digits CNN, batch 32", "digits_cnn.studio", digits, args.repeats, args.precisions,
                      args.digits_epochs))
    # Measured before and after the cases, the faster kept: a busy moment only ever lowers it.
    peaks = {p: max(before[p], peak_gflops(p)) for p in args.precisions}
    print("peak (2048x2048 matmul, fastest of torch.mm and a 1x1 convolution): "
          + " | ".join(f"{p} {rate:.0f} GFLOP/s ({kernel})" for p, (rate, kernel) in peaks.items()))
    for row in rows:
        achieved = row.trainer * row.flops / 1e9
        rate = peaks[row.precision][0]
        print(f"  {row.case}, {row.precision}: {achieved:6.1f} GFLOP/s = {achieved / rate:5.1%} of the peak, "
              f"{row.trainer:.1f} of at most {rate * 1e9 / row.flops:.1f} samples/s")
    return 0 if min(row.ratio for row in rows) >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
