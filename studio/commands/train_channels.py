"""The channels of a training process: events out (`--events`), control lines in (`--control`), signals.

A supervisor (the window, a sweep) starts `model-studio train FILE --events - --control -`, reads one
JSON event per line on the process' standard output and writes `pause`, `resume` or `stop` lines to its
standard input. The end of the control input means the supervisor is gone: the run stops after the
batch and is recorded, as it does on SIGTERM. A supervisor that stops reading the events does the same.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from studio.train import events


class StoppedBeforeTraining(Exception):
    """Stop came while the data was loading: nothing was trained, nothing is recorded."""


class RunControl:
    """Pause, resume and stop, asked for from any thread before or after the trainer exists."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trainer: Any = None
        self.stopped = False
        self._paused = False

    def attach(self, trainer: Any) -> None:
        """From now on requests go to `trainer`; the ones made before it existed apply now."""
        with self._lock:
            self._trainer = trainer
            if self.stopped:
                trainer.stop()
            elif self._paused:
                trainer.pause()

    def apply(self, command: str) -> None:
        with self._lock:
            if command == "stop":
                self.stopped = True
            elif command in ("pause", "resume"):
                self._paused = command == "pause"
            trainer = self._trainer
        if trainer is not None:
            getattr(trainer, command)()

    def check(self, _done: int = 0, _total: int = 0) -> None:
        """Raise StoppedBeforeTraining once stop was asked for (called while the data loads)."""
        if self.stopped:
            raise StoppedBeforeTraining


class EventWriter:
    """Writes events as JSON lines to `stream`, one whole line at a time from any thread.

    When the reader is gone (a closed pipe), `on_lost` is called once and later events are dropped."""

    def __init__(self, stream: TextIO, on_lost: Callable[[], None]) -> None:
        self._stream = stream
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self.lost = False

    def __call__(self, event: events.Event) -> None:
        line = events.encode(event) + "\n"
        with self._lock:
            if self.lost:
                return
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):  # a broken pipe, or a stream already closed
                self.lost = True
        if self.lost:
            self._on_lost()


def read_controls(stream: TextIO, control: RunControl,
                  say: Callable[[events.Event], None]) -> threading.Thread:
    """Apply the control lines of `stream` on a daemon thread; its end stops the run."""

    def loop() -> None:
        for line in _lines(stream):
            command = line.strip().lower()
            if command in events.CONTROLS:
                control.apply(command)
            elif command:
                say(events.Message(text=f"unknown control command {command[:40]!r}; expected "
                                   f"{', '.join(events.CONTROLS)}", level="warning"))
        control.apply("stop")

    thread = threading.Thread(target=loop, name="control", daemon=True)
    thread.start()
    return thread


def _lines(stream: TextIO) -> Iterator[str]:
    try:
        yield from stream
    except (OSError, ValueError):
        return


@contextmanager
def stop_on_sigterm(control: RunControl, say: Callable[[str], None] = lambda _text: None):
    """SIGTERM stops the run after the current batch while the block runs (main thread only)."""

    def handler(_signum, _frame) -> None:
        say("Stopping after this batch (terminated)...")
        control.apply("stop")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: whoever runs us handles signals
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def open_events(destination: str) -> TextIO:
    """The stream `--events` names: '-' is standard output, anything else a file to write."""
    if destination == "-":
        return sys.stdout
    from studio.core.safe_io import write_target

    return open(write_target(destination, "events file"), "w", encoding="utf-8")  # noqa: SIM115
