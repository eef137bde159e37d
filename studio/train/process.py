"""Supervising a training process from another one: start it, read its events, steer it, end it.

Qt-free, so the window's worker thread and anything else that runs trials (a sweep, a test) share it.
The process is `model-studio train FILE --events - --control -`, started afresh, handed to a warm
process that has imported torch already (`WarmProcess`), or under torchrun for several ranks. Its
standard error is kept (the last lines) to say why it ended when it ends without an `end` event.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from studio.train import events

WARM_EXIT_S = 120  # a warm process let go exits by itself once imported; later it is ended
STDERR_LINES = 40  # kept to explain an unexpected end
ERROR_MARKS = ("error", "fault", "killed", "abort", "terminate called")  # lines that say why it ended


def studio_command(argv: Sequence[str], processes: int = 1) -> list[str]:
    """The command line that runs `model-studio ARGV`, under torchrun with `processes` > 1."""
    if processes > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={processes}", "-m", "studio", *argv]
    return [sys.executable, "-m", "studio", *argv]


def _spawn(command: list[str], env: dict[str, str] | None) -> subprocess.Popen:
    # A session of its own: a Ctrl-C meant for the window does not reach it, and ending it ends its
    # helpers (data loader workers) with it.
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", errors="replace", bufsize=1,
                            env={**os.environ, **(env or {})}, start_new_session=True)


class TrainingProcess:
    """One running training process."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._send_lock = threading.Lock()
        self.ended_by_us = False  # end_now() was called
        self._stderr_reader = threading.Thread(target=self._read_stderr, name="training-stderr", daemon=True)
        self._stderr_reader.start()

    @classmethod
    def start(cls, argv: Sequence[str], *, processes: int = 1, env: dict[str, str] | None = None,
              warm: WarmProcess | None = None) -> TrainingProcess:
        """Run `model-studio ARGV` (a `train ... --events - --control -` command): in `warm` when it is
        given and still alive, else in a new process (under torchrun for several processes)."""
        if warm is not None and processes == 1:
            popen = warm.hand_over(argv, env)
            if popen is not None:
                return cls(popen)
        return cls(_spawn(studio_command(argv, processes), env))

    # --- what it says ------------------------------------------------------------------------------

    def events(self) -> Iterator[events.Event]:
        """Its events until its standard output ends; a line that is not an event becomes a warning."""
        stream = self._popen.stdout
        assert stream is not None
        for line in stream:
            if not line.strip():
                continue
            try:
                event = events.decode(line)
            except events.ProtocolError as exc:
                yield events.Message(text=f"the training process wrote {exc}", level="warning")
                continue
            if event is not None:
                yield event

    def _read_stderr(self) -> None:
        stream = self._popen.stderr
        assert stream is not None
        with contextlib.suppress(OSError, ValueError):
            for line in stream:
                if line.strip():
                    self.stderr_tail.append(line.rstrip())

    # --- steering it --------------------------------------------------------------------------------

    def send(self, command: str) -> bool:
        """Write a control line (pause, resume, stop); False when the process no longer reads them."""
        if command not in events.CONTROLS:
            raise ValueError(f"unknown control command {command!r}")
        with self._send_lock:
            try:
                assert self._popen.stdin is not None
                self._popen.stdin.write(command + "\n")
                self._popen.stdin.flush()
                return True
            except (OSError, ValueError):
                return False

    def close_control(self) -> None:
        """End the control channel: the run stops after its batch and is recorded."""
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            assert self._popen.stdin is not None
            self._popen.stdin.close()

    def end_now(self) -> None:
        """End the process and every process it started, at once (SIGKILL)."""
        self.ended_by_us = True
        kill_tree(self.pid)

    # --- its end ------------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status (negative: the signal that ended it), or None if still running at `timeout`."""
        try:
            code = self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._stderr_reader.join(timeout=2)
        return code

    def last_error(self) -> str:
        """The last line on its standard error that reads as an error ("" when none does): what a crash
        printed, never a progress line."""
        for line in reversed(self.stderr_tail):
            text = line.strip()
            if any(mark in text.lower() for mark in ERROR_MARKS):
                return text
        return ""


def exit_text(code: int | None) -> str:
    """How a process ended, in words: 'was killed by signal 9 (SIGKILL)', 'exited with status 1'."""
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by signal {-code} ({name})"
    return f"exited with status {code}"


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` and its descendants (torchrun starts its ranks in sessions of their own)."""
    for victim in [*_descendants(pid), pid]:
        with contextlib.suppress(OSError):
            os.kill(victim, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    """The processes below `pid`, read from /proc where there is one (else none)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        after = text.rpartition(")")[2].split()
        if len(after) > 2:
            parents.setdefault(int(after[1]), []).append(int(entry.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class WarmProcess:
    """A process that has imported torch and the trainer and waits for its run (`train_process`)."""

    def __init__(self) -> None:
        self._popen: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.ready = threading.Event()  # the process has imported everything and waits for its run

    def start(self) -> None:
        """Start one unless one is ready or starting."""
        with self._lock:
            if self._popen is None or self._popen.poll() is not None:
                self.ready.clear()
                popen = self._popen = _spawn([sys.executable, "-m", "studio.commands.train_process"], None)
                threading.Thread(target=self._wait_ready, args=(popen,), name="warm-process",
                                 daemon=True).start()

    def _wait_ready(self, popen: subprocess.Popen) -> None:
        # Its first line says it is ready; what follows belongs to the run it is handed.
        with contextlib.suppress(OSError, ValueError):
            assert popen.stderr is not None
            if popen.stderr.readline().strip() == "ready":
                with self._lock:
                    if self._popen is popen:
                        self.ready.set()

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def hand_over(self, argv: Sequence[str], env: dict[str, str] | None) -> subprocess.Popen | None:
        """Give the waiting process its run; None when there is none alive (start a fresh one then)."""
        with self._lock:
            popen, self._popen = self._popen, None
            self.ready.clear()
        if popen is None or popen.poll() is not None:
            return None
        order = json.dumps({"argv": list(argv), "env": dict(env or {})})
        try:
            assert popen.stdin is not None
            popen.stdin.write(order + "\n")
            popen.stdin.flush()
        except (OSError, ValueError):
            return None
        return popen

    def close(self) -> None:
        """Let the waiting process go: the end of its input makes it exit once it has finished warming up.
        Nobody waits for that; a thread reaps it, and ends it if it is still there after WARM_EXIT_S."""
        with self._lock:
            popen, self._popen = self._popen, None
            self.ready.clear()
        if popen is None:
            return
        with contextlib.suppress(OSError, ValueError):
            assert popen.stdin is not None
            popen.stdin.close()
        threading.Thread(target=_reap, args=(popen,), name="warm-process-exit", daemon=True).start()


def _reap(popen: subprocess.Popen) -> None:
    try:
        popen.wait(timeout=WARM_EXIT_S)
    except subprocess.TimeoutExpired:
        kill_tree(popen.pid)
        popen.wait()
