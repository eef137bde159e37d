"""`model-studio train FILE --events - --control -`: the training process' protocol, as its supervisor
sees it."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

import pytest

from studio.core.project import load_project
from studio.train import events

PROJECTS = Path(__file__).resolve().parents[1] / "projects"
READ_TIMEOUT_S = 90


def digits(folder: Path, **training) -> Path:
    """The digits example, one thread, half the data held out (an epoch takes a fraction of a second)."""
    data = json.loads((PROJECTS / "digits_cnn.studio").read_text(encoding="utf-8"))
    data["training"].update({"epochs": 2, "threads": 1, **training})
    data["dataset"]["settings"] = {"validation_split": 0.5}
    path = folder / "digits.studio"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


class Process:
    """A training process with its event lines read on a thread."""

    def __init__(self, path: Path, *extra: str, control: bool = True,
                 launcher: list[str] | None = None) -> None:
        argv = [*(launcher or [sys.executable, "-m", "studio"]), "train", str(path), "--events", "-", *extra]
        if control:
            argv += ["--control", "-"]
        self.popen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self.seen: list[tuple[float, dict]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.put((time.monotonic(), line))
        self.lines.put((time.monotonic(), None))

    def send(self, line: str) -> None:
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def until(self, kind: str) -> dict:
        """Read events up to the first of `kind` (returned)."""
        deadline = time.monotonic() + READ_TIMEOUT_S
        while True:
            at, line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, f"the process ended before a {kind} event: {self.stderr()}"
            body = json.loads(line)
            self.seen.append((at, body))
            if body["event"] == kind:
                return body

    def drain(self) -> None:
        """Take in the lines that arrived so far."""
        while not self.lines.empty():
            at, line = self.lines.get()
            if line is not None:
                self.seen.append((at, json.loads(line)))

    def finish(self) -> tuple[int, str]:
        self.until("end")
        code = self.popen.wait(timeout=READ_TIMEOUT_S)
        return code, self.stderr()

    def stderr(self) -> str:
        if self.popen.poll() is None:
            return ""
        return self.popen.stderr.read()

    def kinds(self) -> list[str]:
        return [body["event"] for _, body in self.seen]


@pytest.fixture
def proc_cleanup():
    started: list[Process] = []
    yield started
    for p in started:
        if p.popen.poll() is None:
            p.popen.kill()
            p.popen.wait()


def start(started: list[Process], *args, **kwargs) -> Process:
    process = Process(*args, **kwargs)
    started.append(process)
    return process


@pytest.mark.timeout(180)
def test_every_line_is_a_versioned_event_and_the_run_is_recorded(tmp_path, proc_cleanup):
    path = digits(tmp_path)
    process = start(proc_cleanup, path, control=False)
    code, stderr = process.finish()
    assert code == 0, stderr
    bodies = [body for _, body in process.seen]
    assert all(body["v"] == events.PROTOCOL_VERSION for body in bodies)
    kinds = process.kinds()
    assert kinds[0] == "begin" and kinds[-1] == "end"
    assert kinds.count("epoch_begin") == 2 and kinds.count("epoch_end") == 2 and "batch" in kinds
    assert "grad_norms" in kinds  # the digits project reports gradient norms every 10 batches
    # Every field of every kind, by its declared name: renaming one fails here and in each reader.
    for body in bodies:
        cls = events.KINDS[body["event"]]
        assert set(body) == {"v", "event"} | {f.name for f in fields(cls)}, body["event"]
        assert isinstance(events.decode(json.dumps(body)), cls)
    epoch_end = next(body for body in bodies if body["event"] == "epoch_end")
    assert epoch_end["epoch"] == 1
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epoch_end["metrics"])
    begin, end = bodies[0], bodies[-1]
    assert end["status"] == "completed" and end["saved"] and end["run_id"] == begin["run_id"]
    (run,) = load_project(path).runs
    assert end["record"] == run and (path.parent / run["weights"]).is_file()
    # The human progress went to standard error, the summary line included.
    assert "Epoch 1/2" in stderr and f"Run {run['id']}: completed" in stderr


@pytest.mark.timeout(180)
def test_pause_holds_the_batches_resume_continues_and_stop_ends_the_run_recorded(tmp_path, proc_cleanup):
    path = digits(tmp_path, epochs=200)
    process = start(proc_cleanup, path)
    process.until("batch")
    process.send("pause")
    time.sleep(1.0)  # a batch under way when the line came may still end
    process.drain()
    held_from = len(process.seen)
    time.sleep(1.5)
    assert process.lines.empty(), "batches went on while paused"
    process.send("resume")
    process.until("batch")
    assert len(process.seen) > held_from
    process.send("stop")
    code, stderr = process.finish()
    end = process.seen[-1][1]
    assert code == 0 and end["status"] == "stopped", stderr
    assert [r["id"] for r in load_project(path).runs] == [end["run_id"]]


@pytest.mark.timeout(180)
def test_an_unknown_control_line_is_a_warning_and_the_end_of_control_stops(tmp_path, proc_cleanup):
    path = digits(tmp_path, epochs=200)
    process = start(proc_cleanup, path)
    process.until("batch")
    process.send("jump")
    warning = process.until("message")
    assert warning["level"] == "warning" and "jump" in warning["text"]
    process.popen.stdin.close()  # the supervisor is gone
    code, _ = process.finish()
    assert code == 0 and process.seen[-1][1]["status"] == "stopped"
    assert load_project(path).runs[0]["status"] == "stopped"


@pytest.mark.timeout(180)
def test_sigterm_stops_after_the_batch_and_records_the_run(tmp_path, proc_cleanup):
    path = digits(tmp_path, epochs=200)
    process = start(proc_cleanup, path)
    process.until("batch")
    process.popen.send_signal(signal.SIGTERM)
    code, _ = process.finish()
    end = process.seen[-1][1]
    assert code == 0 and end["status"] == "stopped" and end["saved"]
    assert load_project(path).runs[0]["id"] == end["run_id"]


@pytest.mark.timeout(120)
def test_stop_before_training_records_nothing(tmp_path, proc_cleanup):
    path = digits(tmp_path)
    process = start(proc_cleanup, path)
    process.send("stop")  # read at once, long before the model is built
    code, _ = process.finish()
    end = process.seen[-1][1]
    assert code == 0 and end["status"] == "stopped" and end["record"] is None
    assert "begin" not in process.kinds() and load_project(path).runs == []


@pytest.mark.timeout(120)
def test_a_run_that_cannot_start_ends_failed_with_the_message(tmp_path, proc_cleanup):
    data = json.loads(digits(tmp_path).read_text())
    data["dataset"] = {"name": "image_folder", "settings": {"path": "missing-folder"}}
    path = tmp_path / "broken.studio"
    path.write_text(json.dumps(data))
    process = start(proc_cleanup, path)
    code, stderr = process.finish()
    end = process.seen[-1][1]
    assert code == 2 and end["status"] == "failed" and end["record"] is None
    assert "missing-folder" in end["message"]
    assert stderr.strip().splitlines()[-1].startswith("model-studio: error:")
    assert "Traceback" not in stderr


def test_batch_events_are_throttled_at_the_sender_and_the_epochs_last_batch_is_sent():
    from studio.train.event_stream import EventStream

    sent: list[events.Event] = []
    stream = EventStream(sent.append)
    batches = 20_000
    began = time.monotonic()
    for b in range(1, batches + 1):
        stream.on_batch_end({"epoch": 1, "epochs": 1, "batch": b, "batches": batches, "step": b, "loss": 0.5,
                             "metrics": {"loss": 0.5}, "lr": 0.1, "samples_per_s": 1.0, "elapsed": 0.0,
                             "eta": 0.0})
    stream.on_epoch_end({"epoch": 1, "epochs": 1, "batches": batches, "loss": 0.5, "metrics": {"loss": 0.5},
                         "lr": 0.1, "time_s": 1.0, "samples_per_s": 1.0, "elapsed": 1.0, "eta": 0.0})
    took = time.monotonic() - began
    sent_batches = [e for e in sent if isinstance(e, events.Batch)]
    assert len(sent_batches) <= events.BATCH_HZ * took + 2
    assert sent_batches[-1].batch == batches and isinstance(sent[-1], events.EpochEnd)


def test_decode_refuses_other_versions_and_broken_lines_and_skips_unknown_kinds():
    line = events.encode(events.Message(text="hello"))
    assert events.decode(line) == events.Message(text="hello")
    with pytest.raises(events.ProtocolError, match="version 2"):
        events.decode(line.replace('"v":1', '"v":2'))
    with pytest.raises(events.ProtocolError, match="not an event"):
        events.decode('{"v":1,"event":"batch",')
    with pytest.raises(events.ProtocolError, match="without"):
        events.decode('{"v":1,"event":"epoch_begin","epoch":1}')
    with pytest.raises(events.ProtocolError, match="status"):
        events.decode('{"v":1,"event":"end","status":"exploded","run_id":"x","record":null}')
    assert events.decode('{"v":1,"event":"from_the_future"}') is None
    nan = events.encode(events.GradNorms(epoch=1, batch=1, step=1, norms={"dense": float("nan")}))
    assert json.loads(nan)["norms"] == {"dense": None}


@pytest.mark.timeout(120)
def test_the_warm_process_runs_the_train_command_it_is_handed(tmp_path):
    from studio.train.process import TrainingProcess, WarmProcess

    path = digits(tmp_path, epochs=1)
    warm = WarmProcess()
    warm.start()
    process = TrainingProcess.start(["train", str(path), "--events", "-", "--control", "-"], warm=warm)
    kinds = [event.kind for event in process.events()]
    assert process.wait(60) == 0 and kinds[0] == "begin" and kinds[-1] == "end"
    assert len(load_project(path).runs) == 1
    assert not warm.alive  # handed over: the next run needs a new one


@pytest.mark.timeout(180)
def test_a_warm_process_that_is_not_needed_exits_quietly():
    from studio.train.process import WarmProcess

    warm = WarmProcess()
    warm.start()
    popen = warm._popen
    warm.close()  # returns at once, even while it still imports torch
    assert popen.wait(120) == 0


def test_exit_text_names_the_signal():
    from studio.train.process import exit_text

    assert exit_text(-signal.SIGKILL) == "was killed by signal 9 (SIGKILL)"
    assert exit_text(3) == "exited with status 3"


@pytest.mark.timeout(60)
def test_kill_tree_ends_a_process_and_the_ones_it_started(tmp_path):
    from studio.train.process import kill_tree

    script = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; "
              "time.sleep(60)'], start_new_session=True); print('up', flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "up"
    from studio.train.process import _descendants

    children = _descendants(parent.pid)
    assert len(children) == 1
    kill_tree(parent.pid)
    assert parent.wait(10) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while running(children[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(children[0]), "the child was left running"


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.timeout(240)
def test_two_processes_stop_together_and_rank_0_alone_speaks(tmp_path, proc_cleanup):
    path = digits(tmp_path, epochs=200)
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
            "studio"]
    process = start(proc_cleanup, path, "--device", "cpu", launcher=argv)
    begin = process.until("begin")
    assert begin["processes"] == 2
    process.until("batch")
    process.send("stop")  # to rank 0, which shares it with rank 1 at the next batch
    code, stderr = process.finish()
    end = process.seen[-1][1]
    assert code == 0 and end["status"] == "stopped" and end["weights_agree"] is True, stderr
    assert process.kinds().count("begin") == 1 and process.kinds().count("end") == 1
    assert [r["id"] for r in load_project(path).runs] == [end["run_id"]]


@pytest.mark.timeout(60)
def test_an_unexpected_end_is_explained_by_the_error_it_printed_never_by_progress():
    from studio.train.process import TrainingProcess, _spawn

    script = ("import sys; print('Epoch 3/10', file=sys.stderr); "
              "print('RuntimeError: CUDA error: an illegal memory access', file=sys.stderr); "
              "print('Epoch 4/10', file=sys.stderr); sys.exit(1)")
    process = TrainingProcess(_spawn([sys.executable, "-c", script], None))
    assert list(process.events()) == [] and process.wait(30) == 1
    assert process.last_error() == "RuntimeError: CUDA error: an illegal memory access"
    quiet = TrainingProcess(_spawn([sys.executable, "-c", "import sys; print('Epoch 1/2', file=sys.stderr)"],
                                   None))
    assert quiet.wait(30) == 0 and quiet.last_error() == ""
