"""Images streamed from the on-disk cache against the same images held in memory.

    .venv/bin/python benchmarks/bench_streaming.py [--images N] [--limit-mb MB] [--passes N]

Writes a generated image folder (at least 4,000 PNG images of 150x150x3), decodes it once into the
image cache (a cache folder of its own, removed afterwards), then compares two ways of reading it:

- in memory: the cache file read whole into one uint8 tensor (the bytes the folder loader holds);
- streamed: `StreamedRows` over the cache file, as a folder over the memory limit (64 MB by
  default, which this folder exceeds) is read; with read-ahead, and without it for context.

Memory: each way runs one pass in a process of its own, which reports its peak resident memory
(VmHWM from /proc/self/status) and how far that rose above the process after its imports.

Time: one pass of shuffled batches of 20, the ways alternately in one process, best and median of
the passes. Until the trainer takes streamed data, a pass is what its loop does to the data: the
epoch's `index_select` of each batch plus the conversion to float in 0..1; no model runs. So that
the figures measure the reads: torch uses one thread (its thread pool on a busy machine would time
the pool), and glibc's heap thresholds are fixed for that process (MALLOC_MMAP_THRESHOLD_,
MALLOC_TRIM_THRESHOLD_), the same for every way: left to adapt, they returned the freed batch
memory to the system after some passes and not others, so that one process's loop ran 5x slower
than the next in either way. With the file in the page cache a streamed read is a copy from the
kernel (about twice the time of an in-memory `index_select`), which read-ahead hides only where a
core is free for its thread. The last two figures evict the file from the page cache before each
pass (posix_fadvise DONTNEED on that file only), so the rows come from the disk: what read-ahead
is for.
Training: the slides' CNN with its project's settings, one epoch at a time, the folder loaded by the
image-folder dataset held in memory and streamed (its `memory_limit_mb` set to the limit), alternately;
the best epoch of each (`--epochs` of each way).
Targets: streamed epochs >= 0.9x the speed of in-memory ones; a streamed process' memory rises by less
than the limit. The reading passes alone are printed for context.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = 150
GEOMETRY = (3, SIZE, SIZE)
BATCH = 20
TARGET_RATIO = 0.9
FIXED_HEAP = {"MALLOC_MMAP_THRESHOLD_": str(64 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20)}
WAYS = ("in memory", "streamed", "streamed, no read-ahead", "streamed, cold", "cold, no read-ahead")


def _status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(f"{field}:"))
    return int(line.split()[1]) * 1024


def one_pass(images, seed: int, *, read_ahead: bool) -> float:
    """Seconds for one epoch's shuffled batches: index_select, then float in 0..1."""
    import torch

    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    if read_ahead:
        images.prefetch(order, BATCH)
    elif hasattr(images, "stop"):
        images.stop()  # the last pass' read-ahead, which would only look for its own batches
    start = time.perf_counter()
    for b in range(0, len(order), BATCH):
        x = images.index_select(0, order[b:b + BATCH])
        x = x.float().div_(255.0)
    return time.perf_counter() - start


def _in_memory(entry):
    import numpy as np
    import torch

    return torch.from_numpy(np.fromfile(entry.data_path, dtype=np.uint8).reshape(entry.shape))


def measure_memory(mode: str, folder: Path) -> dict:
    """One pass one way, in this process (a process of its own per way): its peak memory."""
    import torch

    from studio.data.disk_cache import open_folder_cache

    torch.set_num_threads(1)
    entry = open_folder_cache(folder, GEOMETRY)  # the cache exists: this only checks it
    baseline = _status("VmRSS")
    if mode == "memory":
        one_pass(_in_memory(entry), 0, read_ahead=False)
    else:
        with entry.images() as images:
            one_pass(images, 0, read_ahead=True)
    peak = _status("VmHWM")
    return {"peak": peak, "rise": peak - baseline}


def _evict(path: Path) -> None:
    """Drop this file's pages from the page cache, so the next reads go to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def measure_time(folder: Path, passes: int) -> dict:
    """Every way's pass times, the ways alternately (run in a process of its own, see FIXED_HEAP)."""
    import torch

    from studio.data.disk_cache import open_folder_cache

    torch.set_num_threads(1)
    entry = open_folder_cache(folder, GEOMETRY)
    held = _in_memory(entry)
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    with entry.images() as streamed:
        for seed in range(passes):
            times["in memory"].append(one_pass(held, seed, read_ahead=False))
            times["streamed"].append(one_pass(streamed, seed, read_ahead=True))
            times["streamed, no read-ahead"].append(one_pass(streamed, seed, read_ahead=False))
            if hasattr(os, "posix_fadvise"):
                _evict(entry.data_path)
                times["streamed, cold"].append(one_pass(streamed, seed, read_ahead=True))
                _evict(entry.data_path)
                times["cold, no read-ahead"].append(one_pass(streamed, seed, read_ahead=False))
    return times


def measure_training(folder: Path, limit_mb: int, rounds: int) -> dict:
    """Epoch times of the slides' CNN (the project's own settings) trained by the Trainer on the folder
    loaded by the image-folder dataset held in memory and streamed, alternately, with the peak memory
    of this process after each way's first epoch."""
    import torch

    from studio.core.build import build_model
    from studio.core.project import load_project
    from studio.data import load_dataset
    from studio.train import Trainer

    project = load_project(ROOT / "projects" / "cats_vs_dogs.studio")
    ways = {"in memory": 0, "streamed": limit_mb}
    figures: dict[str, dict] = {way: {"epochs": []} for way in ways}
    for _ in range(rounds):
        for way, limit in ways.items():
            data = load_dataset("image_folder", {"path": str(folder), "image_size": [SIZE, SIZE],
                                                 "memory_limit_mb": limit})
            figures[way]["storage"] = data.storage
            torch.manual_seed(0)
            model = build_model(project.graph, logits=True)
            settings = {**project.training, "epochs": 1, "device": "cpu"}
            result = Trainer(model, data, settings).fit()
            figures[way]["epochs"].append(result.epochs[0]["time_s"])
            figures[way]["precision"] = result.precision
            del data, model
    return figures


def _child(task: str, folder: Path, passes: int, env: dict[str, str] | None = None,
           limit_mb: int = 64) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", task, "--folder", str(folder),
                             "--passes", str(passes), "--limit-mb", str(limit_mb)], capture_output=True,
                            text=True,
                            env={**os.environ, **(env or {})}, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"the {task} run failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4002, help="images in the folder (at least 4,000)")
    parser.add_argument("--limit-mb", type=int, default=64, help="the memory limit that makes it stream")
    parser.add_argument("--passes", type=int, default=9, help="timed passes of each way")
    parser.add_argument("--epochs", type=int, default=2,
                        help="timed training epochs of each way (0: only the reading passes)")
    parser.add_argument("--child", choices=("memory", "streamed", "time", "train"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "time":
        print(json.dumps(measure_time(args.folder, args.passes)))
        return 0
    if args.child == "train":
        print(json.dumps(measure_training(args.folder, args.limit_mb, args.passes)))
        return 0
    if args.child:
        print(json.dumps(measure_memory(args.child, args.folder)))
        return 0

    from studio.data import write_image_folder
    from studio.data.disk_cache import decoded_bytes, format_bytes, open_folder_cache, streams

    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as scratch:
        work = Path(scratch)
        os.environ["MODEL_STUDIO_CACHE"] = str(work / "cache")
        per_class = -(-args.images // 3)  # train/ holds per_class per class, validation/ half as many
        start = time.perf_counter()
        folder = write_image_folder(work / "pets", per_class=per_class, size=SIZE, seed=0)
        written = time.perf_counter() - start
        start = time.perf_counter()
        entry = open_folder_cache(folder, GEOMETRY)
        built = time.perf_counter() - start
        start = time.perf_counter()
        open_folder_cache(folder, GEOMETRY)
        reused = time.perf_counter() - start
        count = int(entry.shape[0])
        limit = args.limit_mb * 2**20
        print(f"folder: {count} images of {SIZE}x{SIZE}x3 written in {written:.1f} s; decoded "
              f"{format_bytes(decoded_bytes(count, GEOMETRY))} against a limit of {format_bytes(limit)}: "
              f"{'streamed' if streams(count, GEOMETRY, limit) else 'held in memory'}")
        print(f"cache: decoded once in {built:.1f} s ({count / built:.0f} images/s); opened again in "
              f"{reused * 1000:.0f} ms without decoding")
        memory = {mode: _child(mode, folder, 1) for mode in ("memory", "streamed")}
        times = _child("time", folder, args.passes, FIXED_HEAP)
        training = (_child("train", folder, args.epochs, limit_mb=args.limit_mb)
                    if args.epochs else None)

    print("peak memory of one pass, a process per way (+ rise over the process after its imports):")
    for mode, figures in memory.items():
        print(f"  {mode:9s} {format_bytes(figures['peak']):>10}  (+{format_bytes(figures['rise'])})")
    print(f"one pass of {count} images in shuffled batches of {BATCH} (index_select + float), "
          f"{args.passes} passes each, alternately:")
    best_memory, median_memory = min(times["in memory"]), statistics.median(times["in memory"])
    for way, passes in times.items():
        if passes:
            best, median = min(passes), statistics.median(passes)
            print(f"  {way:24s} best {best * 1000:7.1f} ms ({count / best:6.0f} images/s, "
                  f"{best_memory / best:.2f}x)   median {median * 1000:7.1f} ms "
                  f"({median_memory / median:.2f}x)")
    ratio = best_memory / min(times["streamed"])
    rise = memory["streamed"]["rise"]
    print(f"streamed / in memory throughput (best passes): {ratio:.2f}x, target >= {TARGET_RATIO}x: "
          f"{'ok' if ratio >= TARGET_RATIO else 'below'}")
    print(f"streamed memory rise {format_bytes(rise)}, limit {format_bytes(limit)}: "
          f"{'ok' if rise < limit else 'over'}")
    if training is None:
        return 0 if ratio >= TARGET_RATIO and rise < limit else 1
    held, streamed = training["in memory"], training["streamed"]
    print(f"training the slides' CNN ({streamed['precision']}, batch 20), {args.epochs} epochs each way, "
          "alternately, after the cache exists:")
    for way, figures in training.items():
        print(f"  {way:9s} best epoch {min(figures['epochs']):6.1f} s   ({figures['storage']})")
    epoch_ratio = min(held["epochs"]) / min(streamed["epochs"])
    print(f"streamed / in memory epoch speed: {epoch_ratio:.2f}x, target >= {TARGET_RATIO}x: "
          f"{'ok' if epoch_ratio >= TARGET_RATIO else 'below'}")
    return 0 if epoch_ratio >= TARGET_RATIO and rise < limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
