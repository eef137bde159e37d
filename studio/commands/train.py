"""`model-studio train FILE`: train headless with Keras-style progress; Ctrl-C stops cleanly.

Under `torchrun --nproc_per_node=N -m studio train FILE` every process trains its shard with
DistributedDataParallel and only rank 0 prints and writes the project and weights.

With `--events -` the run is a training process: rank 0 writes the events of `studio.train.events` on
standard output, one JSON object per line, ending with `end`; the human progress goes to standard error.
`--control -` reads pause, resume and stop lines on standard input (see `train_channels`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from studio.commands.train_channels import (
    EventWriter,
    RunControl,
    StoppedBeforeTraining,
    open_events,
    read_controls,
    stop_on_sigterm,
)
from studio.core.errors import StudioError, failure_text
from studio.core.project import load_project
from studio.runs import RunError, prepare_training
from studio.train import events

OK_STATUSES = ("completed", "early_stopped", "stopped")


class _Channels:
    """What a run reports to and takes orders from: events (rank 0 with --events), control, signals."""

    def __init__(self, args: argparse.Namespace, leader: bool) -> None:
        self.control = RunControl()
        self.send = _discard
        self.human = sys.stdout
        if args.events is not None and leader:
            stream = open_events(args.events)
            if stream is sys.stdout:
                sys.stdout = sys.stderr  # nothing else may write into the event stream
            self.human = sys.stderr
            self.send = EventWriter(stream, on_lost=lambda: self.control.apply("stop"))
        elif args.events is not None:
            self.human = sys.stderr
        if args.control is not None and leader:
            read_controls(sys.stdin, self.control, self.send)

    def say(self, text: str) -> None:
        print(text, file=self.human, flush=True)


def run(args: argparse.Namespace) -> int:
    leader = os.environ.get("RANK", "0") == "0"
    stdout = sys.stdout
    channels = _Channels(args, leader)
    try:
        return _run(args, channels)
    except StoppedBeforeTraining:
        channels.say("Stopped before training began; nothing was recorded")
        channels.send(events.End(status="stopped", run_id="", record=None,
                                 message="stopped before training began"))
        return 0
    except StudioError as exc:
        channels.send(events.End(status="failed", run_id="", record=None, message=str(exc)))
        raise
    except Exception as exc:
        channels.send(events.End(status="failed", run_id="", record=None, message=failure_text(exc)))
        raise
    finally:
        sys.stdout = stdout


def _run(args: argparse.Namespace, channels: _Channels) -> int:
    from studio.train import distributed
    from studio.train.devices import cpu_count

    project = load_project(args.file)
    overrides = {key: value for key, value in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                               ("device", args.device), ("threads", args.threads))
                 if value is not None}
    group = distributed.start_from_environment(overrides.get("device", project.training["device"]))
    in_step = False  # this rank failed: the others may be inside a collective, so it leaves at once
    try:
        if group is not None:
            if args.resume:
                raise RunError("--resume is for single-process runs; start the distributed run afresh")
            if not project.training["threads"] and "threads" not in overrides:
                overrides["threads"] = max(1, cpu_count() // group.local_world)  # ranks share the cores
        code = _train(args, project, overrides, group, channels)
        in_step = code == 0
        return code
    finally:
        distributed.finish(in_step=in_step)


def _train(args, project, overrides, group, channels: _Channels) -> int:
    from studio.data import skipped_message
    from studio.train import KerasProgress, distributed
    from studio.train.event_stream import EventStream

    leader = group is None or group.leader
    say = channels.say if leader else _quiet
    control = channels.control
    loading = _LoadingLine(channels.send if leader else _discard, control)
    stream = EventStream(channels.send, processes=group.world if group else 1)
    callbacks = [KerasProgress(channels.human), stream] if leader else []
    with stop_on_sigterm(control, say if leader else _quiet):
        job = prepare_training(project, overrides=overrides, resume=args.resume, progress=loading,
                               callbacks=callbacks, writes_files=leader)
        loading.done()
        control.check()
        info = job.data.info
        ranks = f" x {group.world} processes ({group.backend})" if group else ""
        say(f"Training on {job.data.num_train} samples, validating on {job.data.num_val} "
            f"({info.name}, {info.task}) on {job.trainer.device} in {job.trainer.precision}{ranks}; "
            f"data {job.data.storage}")
        skipped = skipped_message(info)
        if skipped:
            say(f"Note: {skipped}")
            stream.notes.append(skipped)
        control.attach(job.trainer)
        with _stop_on_ctrl_c(control):
            result, saved, why = _fit(job)
    agree = None
    if result.status == "failed" and not leader:
        print(f"model-studio: rank {group.rank}: {result.message}", file=sys.stderr)
    if group is not None and result.status != "failed":
        agree = distributed.weights_agree(job.trainer.model)
        if agree:
            say(f"All {group.world} processes ended with identical weights")
    record = next((r for r in project.runs if r.get("id") == result.id), stream.record)
    channels.send(events.End(status=result.status, run_id=result.id, record=record,
                             message=why or result.message, saved=saved, weights_agree=agree))
    if why:
        raise RunError(why)
    if agree is False:
        raise RunError(f"the {group.world} processes ended with different weights")
    where = project.weights_path(result.id).name if result.weights else "no weights"
    say(f"Run {result.id}: {result.status} in {result.duration_s:.1f} s"
        + (f" ({result.message})" if result.message else "") + f"; saved {project.path.name} and {where}")
    return 0 if result.status in OK_STATUSES else 1


def _fit(job) -> tuple[Any, bool, str]:
    """Train and record; (result, whether the run reached the project file, why not)."""
    try:
        result = job.run()
    except RunError as exc:  # trained, but the project could not be written
        result = job.result
        if result is None:
            raise
        return result, False, str(exc)
    return result, job.writes_files, ""


class _stop_on_ctrl_c:
    """The first Ctrl-C asks the trainer to stop after the current batch; the run and its weights are
    then saved as usual. A second Ctrl-C interrupts at once."""

    def __init__(self, control: RunControl) -> None:
        self._control = control

    def __enter__(self) -> None:
        def stop(_signum, _frame):
            print("\nStopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)
            self._control.apply("stop")
            signal.signal(signal.SIGINT, signal.default_int_handler)

        self._previous = signal.signal(signal.SIGINT, stop)

    def __exit__(self, *_exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)


def _quiet(*_args, **_kwargs) -> None:
    """Ranks other than 0 print nothing but errors."""


def _discard(_event: events.Event) -> None:
    """Where events go when nobody reads them."""


class _LoadingLine:
    """Shows progress while a folder of images is decoded (quiet for in-memory datasets); sends it as
    events; and ends the loading when stop is asked for."""

    def __init__(self, send, control: RunControl) -> None:
        self._send = send
        self._control = control
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        self._control.check()
        if done == total or done % 20 == 0:
            self._send(events.Loading(done=done, total=total))
        if total >= 200 and (done == total or done % 100 == 0):
            print(f"\rLoading data: {done}/{total} files", end="", file=sys.stderr, flush=True)
            self._shown = True

    def done(self) -> None:
        if self._shown:
            print(file=sys.stderr)
