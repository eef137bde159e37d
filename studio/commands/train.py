"""`model-studio train FILE`: train headless with Keras-style progress; Ctrl-C stops cleanly."""

from __future__ import annotations

import argparse
import signal
import sys

from studio.core.project import load_project
from studio.runs import prepare_training


def run(args: argparse.Namespace) -> int:
    from studio.train import KerasProgress

    project = load_project(args.file)
    overrides = {key: value for key, value in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                               ("device", args.device)) if value is not None}
    data_progress = _LoadingLine()
    job = prepare_training(project, overrides=overrides, callbacks=[KerasProgress(sys.stdout)],
                           resume=args.resume, progress=data_progress)
    data_progress.done()
    info = job.data.info
    print(f"Training on {job.data.num_train} samples, validating on {job.data.num_val} "
          f"({info.name}, {info.task}) on {job.trainer.device}")

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
    where = project.weights_path(result.id).name if result.weights else "no weights"
    print(f"Run {result.id}: {result.status} in {result.duration_s:.1f} s"
          + (f" ({result.message})" if result.message else "") + f"; saved {project.path.name} and {where}")
    return 0 if result.status in ("completed", "early_stopped", "stopped") else 1


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
