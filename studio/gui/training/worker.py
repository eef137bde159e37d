"""The window's side of a run: a worker thread that supervises the training process.

The run itself is `model-studio train FILE --events - --control -` in a process of its own (a warm one
when there is one), so the window's interpreter never trains, never holds a GPU, and survives
whatever happens to the run. The worker reads the process' events and hands them on as a signal;
pause, resume and stop go down its control channel; End now ends the process. When the process ends
without saying how the run ended (killed, crashed), the worker records the run as failed with the
weights of its last completed epoch and says what happened.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError, failure_text
from studio.gui.background import Cancelled
from studio.train import events
from studio.train.process import TrainingProcess, WarmProcess, exit_text

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """How a run ended. `record` is the run as stored (None when training never started); `runs` is the
    project's run list after it was recorded; `saved` says whether the file was written."""

    record: dict[str, Any] | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    saved: bool = False
    error: str = ""  # what went wrong outside the trainer (loading, the process, saving)
    cancelled: bool = False  # stopped before the first batch: nothing was recorded
    weights_agree: bool | None = None  # a run of several processes: all ended with rank 0's weights

    @property
    def status(self) -> str:
        if self.record is not None:
            return str(self.record.get("status", "failed"))
        return "cancelled" if self.cancelled else "failed"


def gui_threads(project_threads: int, cores: int) -> int:
    """Threads for training started from the window: the project's choice, else all cores but one, so the
    window stays responsive while every other core trains."""
    return project_threads if project_threads > 0 else max(1, cores - 1)


def usable_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Launch:
    """How a picker choice runs: the device setting, the ranks, and the GPU "cuda" means."""

    device: str
    processes: int = 1
    visible_gpu: str | None = None

    @classmethod
    def of(cls, choice: str) -> Launch:
        """"auto", "cpu", "mps", "cuda:1" (that GPU), "cpu*2" (2 CPU processes), "cuda*4" (4 GPUs)."""
        kind, star, count = choice.partition("*")
        if star:
            return cls(kind, max(1, int(count)) if count.isdigit() else 1)
        kind, _, index = choice.partition(":")
        return cls(kind, 1, index if index.isdigit() else None)

    def argv(self, path: Path, threads: int) -> list[str]:
        per_rank = max(1, threads // self.processes)
        return ["train", str(path), "--events", "-", "--control", "-", "--device", self.device,
                "--threads", str(per_rank)]

    def env(self) -> dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": self.visible_gpu} if self.visible_gpu is not None else {}


class _Seen:
    """What the events said so far: enough to record the run if the process never does."""

    def __init__(self) -> None:
        self.begin: events.Begin | None = None
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.epochs: list[dict[str, Any]] = []
        self.batch: events.Batch | None = None
        self.batch_loss: list[float] = []
        self.end: events.End | None = None

    def take(self, event: events.Event) -> None:
        if isinstance(event, events.Begin):
            self.begin = event
            self.epochs = [dict(e) for e in event.history]
        elif isinstance(event, events.Batch):
            self.batch = event
            if event.loss is not None:
                self.batch_loss.append(event.loss)
        elif isinstance(event, events.EpochEnd):
            self.epochs.append({"epoch": event.epoch, **event.metrics, "lr": event.lr, "time_s": event.time_s,
                                "samples_per_s": event.samples_per_s})
        elif isinstance(event, events.End):
            self.end = event

    def where(self) -> str:
        if self.batch is None:
            return "before its first batch"
        return f"at epoch {self.batch.epoch}, batch {self.batch.batch} of {self.batch.batches}"

    def as_record(self) -> dict[str, Any]:
        begin = self.begin
        assert begin is not None
        return {"started": self.started, "device": begin.device, "settings": begin.settings,
                "epochs": self.epochs, "batch_loss": self.batch_loss,
                "elapsed": self.batch.elapsed if self.batch else 0.0}


class TrainingWorker:
    """Supervises one run of the project saved at `path`: `supervise(report)` runs on a background
    thread, reports each event and returns the Outcome; the control methods come from the GUI thread."""

    def __init__(self, path: Path, device: str, threads: int, warm: WarmProcess | None = None) -> None:
        self.path = Path(path)
        self.launch = Launch.of(device)
        self.threads = threads
        self.warm = warm
        self.outcome: Outcome | None = None
        self.process: TrainingProcess | None = None
        self._control = threading.Lock()  # orders control requests against the process being started
        self._asked: list[str] = []  # control lines asked for before the process existed

    # --- control, from the GUI thread -----------------------------------------------------------------

    def stop(self) -> None:
        self._send("stop")

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def end_now(self) -> None:
        """End the training process at once; the run keeps the weights of its last completed epoch."""
        with self._control:
            self._asked.append("end_now")
            process = self.process
        if process is not None:
            process.end_now()

    def _send(self, command: str) -> None:
        with self._control:
            process = self.process
            if process is None:
                self._asked.append(command)
        if process is not None:
            process.send(command)

    # --- the run, on the worker thread ----------------------------------------------------------------

    def supervise(self, report: Callable[[events.Event], None]) -> Outcome:
        try:
            self.outcome = self._supervise(report)
        except Cancelled:  # the window is going: the run stops after its batch and records itself
            if self.process is not None:
                self.process.close_control()
            raise
        except Exception as exc:  # the worker must always finish, whatever happened
            log.exception("supervising the training process failed")
            if self.process is not None:
                self.process.end_now()
            self.outcome = Outcome(error=failure_text(exc))
        return self.outcome

    def _supervise(self, report: Callable[[events.Event], None]) -> Outcome:
        with self._control:
            if "stop" in self._asked or "end_now" in self._asked:
                return Outcome(cancelled=True)
            try:
                process = self.process = TrainingProcess.start(
                    self.launch.argv(self.path, self.threads), processes=self.launch.processes,
                    env=self.launch.env(), warm=self.warm)
            except OSError as exc:
                return Outcome(error=f"the training process could not be started: {exc.strerror or exc}")
            for command in self._asked:
                process.send(command)
        seen = _Seen()
        for event in process.events():
            seen.take(event)
            report(event)
        code = process.wait()
        return self._outcome(process, code, seen)

    def _outcome(self, process: TrainingProcess, code: int | None, seen: _Seen) -> Outcome:
        end = seen.end
        if end is not None:
            if end.record is None:
                return (Outcome(cancelled=True) if end.status == "stopped"
                        else Outcome(error=end.message or f"the training process {exit_text(code)}"))
            return Outcome(record=end.record, runs=self._runs_on_disk([end.record]), saved=end.saved,
                           error="" if end.saved else end.message, weights_agree=end.weights_agree)
        ended_now = process.ended_by_us
        what = ("was ended by End Now" if ended_now else f"{exit_text(code)}") + f" {seen.where()}"
        detail = "" if ended_now else process.last_error()
        if seen.begin is None:  # it ended before training began: nothing to record
            return Outcome(error=f"the training process {what}" + (f": {detail}" if detail else ""))
        kept = (f"; the run keeps the weights of epoch {seen.epochs[-1]['epoch']}" if seen.epochs
                else "; no epoch had ended, so no weights were kept")
        message = f"the training process {what}" + (f" ({detail})" if detail else "") + kept
        status = "stopped" if ended_now else "failed"
        try:
            from studio.runs import record_lost_run

            record = record_lost_run(self.path, seen.begin.run_id, status=status, message=message,
                                     seen=seen.as_record())
        except StudioError as exc:
            return Outcome(record={"id": seen.begin.run_id, "status": status, "message": message,
                                   "epochs": seen.epochs, "weights": None},
                           error=f"{message}; the run could not be recorded: {exc}")
        return Outcome(record=record, runs=self._runs_on_disk([record]), saved=True,
                       error="" if ended_now else message)

    def _runs_on_disk(self, fallback: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The project's runs as the file holds them now (the run was just added there)."""
        from studio.core.project import load_project

        try:
            return load_project(self.path).runs
        except StudioError:
            return fallback
