"""`model-studio train FILE`: train headless with Keras-style progress; Ctrl-C stops cleanly.

Under `torchrun --nproc_per_node=N -m studio train FILE` every process trains its shard with
DistributedDataParallel and only rank 0 prints and writes the project and weights.
"""

from __future__ import annotations

import argparse
import signal
import sys

from studio.core.project import load_project
from studio.runs import RunError, prepare_training


def run(args: argparse.Namespace) -> int:
    from studio.train import KerasProgress, distributed
    from studio.train.devices import cpu_count

    project = load_project(args.file)
    overrides = {key: value for key, value in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                               ("device", args.device)) if value is not None}
    group = distributed.start_from_environment(overrides.get("device", project.training["device"]))
    in_step = False  # this rank failed: the others may be inside a collective, so it leaves at once
    try:
        if group is not None:
            if args.resume:
                raise RunError("--resume is for single-process runs; start the distributed run afresh")
            if not project.training["threads"]:  # processes on one machine share its cores
                overrides["threads"] = max(1, cpu_count() // group.local_world)
        code = _train(args, project, overrides, group, KerasProgress)
        in_step = code == 0
        return code
    finally:
        distributed.finish(in_step=in_step)


def _train(args, project, overrides, group, progress_callback) -> int:
    from studio.data import skipped_message
    from studio.train import distributed

    leader = group is None or group.leader
    say = print if leader else _quiet
    data_progress = _LoadingLine() if leader else None
    job = prepare_training(project, overrides=overrides, resume=args.resume, progress=data_progress,
                           callbacks=[progress_callback(sys.stdout)] if leader else [], writes_files=leader)
    if data_progress:
        data_progress.done()
    info = job.data.info
    ranks = f" x {group.world} processes ({group.backend})" if group else ""
    say(f"Training on {job.data.num_train} samples, validating on {job.data.num_val} "
        f"({info.name}, {info.task}) on {job.trainer.device}{ranks}")
    skipped = skipped_message(info)
    if skipped:
        say(f"Note: {skipped}")

    # The first Ctrl-C asks the trainer to stop after the current batch; the run and its weights are
    # then saved as usual. A second Ctrl-C interrupts at once.
    def stop(_signum, _frame):
        print("\nStopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)
        job.trainer.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        result = job.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if result.status == "failed" and not leader:
        print(f"model-studio: rank {group.rank}: {result.message}", file=sys.stderr)
    if group is not None and result.status != "failed":
        if not distributed.weights_agree(job.trainer.model):
            raise RunError(f"the {group.world} processes ended with different weights")
        say(f"All {group.world} processes ended with identical weights")
    where = project.weights_path(result.id).name if result.weights else "no weights"
    say(f"Run {result.id}: {result.status} in {result.duration_s:.1f} s"
        + (f" ({result.message})" if result.message else "") + f"; saved {project.path.name} and {where}")
    return 0 if result.status in ("completed", "early_stopped", "stopped") else 1


def _quiet(*_args, **_kwargs) -> None:
    """Ranks other than 0 print nothing but errors."""


class _LoadingLine:
    """Shows progress while a folder of images is decoded (quiet for in-memory datasets)."""

    def __init__(self) -> None:
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        if total >= 200 and (done == total or done % 100 == 0):
            print(f"\rLoading data: {done}/{total} files", end="", file=sys.stderr, flush=True)
            self._shown = True

    def done(self) -> None:
        if self._shown:
            print(file=sys.stderr)
