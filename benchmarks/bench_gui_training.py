"""What watching a run in the window costs: Run in the window against `model-studio train FILE` alone.

The window trains in a process of its own (`model-studio train FILE --events - --control -`), so what
the window can cost the run is the share of the machine's cores its redraws take. Trains the digits
CNN (10 epochs) and the slides' cats-vs-dogs CNN (on generated 150x150 RGB shapes, two classes, 300
images, batch 20, 1 epoch), after one untimed warm-up each way. Each round trains once each way, back
to back, the order alternating from round to round:
  * headless: the window's own command line for the run (same file settings, --device and --threads),
    started as a subprocess with nothing but this script reading its events;
  * window: an offscreen MainWindow, shown, with the Training dock and its curves in front, the project
    opened from a temp file, Run pressed (`window.training.run()`), the run's end awaited in a QEventLoop.
Both train with the window's thread count, written into the project file: all cores but one.

Reports:
  * throughput: training samples a second from the run's epoch_end events (each epoch's samples over
    its training time, summed over the epochs; loading the data and validating are outside it), the same
    measure both ways; per project the median of the rounds' ratios window / headless (target >= 0.99);
  * curve redraws a second while training (from the begin event's arrival to the end event's), in the
    digits runs, whose batches come faster than the screen's pace (target >= 20). The slides' CNN trains
    a batch in about half a second, so its curves have nothing new to draw more often: context only;
  * the longest stall of the GUI event loop while the model trains (from the begin event to the last
    batch): the largest gap between the ticks of a 10 ms precise timer (target <= 16 ms), in window runs
    of their own after the rounds, as the probe wakes the window a hundred times a second and so takes
    its own share of the cores. Each tick also reads the GUI thread's CPU time, which splits a gap into
    the window's own work and the time it waited for a core. For comparison the same probe then ticks in
    the idle window with busy loops standing in for the trainer's threads: the stall the machine's
    scheduler alone gives.
Absolute figures are context: these machines are noisy, and the ratios are paired within the run.
The last three lines are the figures, in a fixed form that other tools read.
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_training.py [--rounds N]
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

RATIO_TARGET = 0.99
REDRAW_TARGET_HZ = 20.0
STALL_TARGET_MS = 16.0
TICK_MS = 10
BASELINE_S = 10.0  # how long the probe ticks in the idle window beside the busy loops
RUN_TIMEOUT_S = 900  # a run that takes longer has hung: the benchmark says so and ends
CATS_SAMPLES = 300  # 240 to train on, 60 to validate: 12 batches of 20
# (name in the figures, example project, dataset in its place, training settings over the file's)
PROJECTS = (
    ("digits", "digits_cnn", None, {"epochs": 10}),
    ("cats_vs_dogs", "cats_vs_dogs",
     {"name": "shapes", "settings": {"classes": 2, "image_size": [150, 150], "channels": "3",
                                     "n_samples": CATS_SAMPLES}},
     {"epochs": 1, "batch_size": 20}),
)


class Tally:
    """A run's training throughput from its events: each epoch's samples over its training time."""

    def __init__(self) -> None:
        self.samples = 0  # training samples an epoch
        self.epochs = 0
        self.train_s = 0.0
        self.status = ""
        self.message = ""

    def take(self, event) -> None:
        from studio.train import events

        if isinstance(event, events.Begin):
            self.samples = event.samples
        elif isinstance(event, events.EpochEnd) and event.samples_per_s > 0:
            self.epochs += 1
            self.train_s += self.samples / event.samples_per_s
        elif isinstance(event, events.End):
            self.status, self.message = event.status, event.message

    @property
    def samples_per_s(self) -> float:
        return self.samples * self.epochs / self.train_s if self.train_s > 0 else 0.0

    def check(self, what: str) -> None:
        if self.status != "completed" or not self.epochs:
            why = (self.status or "no end event") + (f": {self.message}" if self.message else "")
            raise SystemExit(f"bench_gui_training: {what} did not complete ({why})")


class TickProbe:
    """A 10 ms precise timer in the GUI thread; each tick notes the wall clock and the GUI thread's CPU
    time, so each gap between ticks splits into the GUI thread's work and its wait for a core."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[tuple[float, float]] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        self.ticks.append((time.perf_counter(), time.thread_time()))

    def gaps(self) -> list[tuple[float, float, float]]:
        """(when it began, wall seconds, GUI-thread CPU seconds) of each gap."""
        return [(at, end - at, cpu_end - cpu_at)
                for (at, cpu_at), (end, cpu_end) in zip(self.ticks, self.ticks[1:], strict=False)]


@dataclass
class WindowRun:
    tally: Tally
    redraws_per_s: float  # curve redraws a second from the begin event to the end event
    cpu_share: float  # cores the window's process kept busy over the same time (all its threads)
    stall_ms: float = 0.0  # longest event-loop gap from the begin event to the last batch (probe runs)
    stall_cpu_ms: float = 0.0  # how much of that gap the GUI thread spent working (the rest it waited)
    busiest_ms: float = 0.0  # the most GUI-thread CPU time between two ticks while training
    around_ms: float = 0.0  # longest gap before the begin event or after the last batch (context)


def write_project(folder: Path, source: str, dataset: dict | None, training: dict, threads: int,
                  way: str) -> Path:
    """A temp copy of an example project with the benchmark's settings, one for each way: the runs each
    records stay out of the other's file."""
    data = json.loads((ROOT / "projects" / f"{source}.studio").read_text(encoding="utf-8"))
    data["training"].update({**training, "threads": threads})
    if dataset is not None:
        data["dataset"] = dataset
    path = folder / f"{source}_{way}.studio"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def headless(path: Path, device: str, threads: int) -> Tally:
    """`model-studio train FILE` with the window's command line, its events read here and nothing else."""
    from studio.gui.training.worker import Launch
    from studio.train.process import TrainingProcess

    process = TrainingProcess.start(Launch.of(device).argv(path, threads))
    tally = Tally()
    for event in process.events():
        tally.take(event)
    code = process.wait(timeout=60)
    process.close_control()
    if code != 0 and not tally.status:
        tally.message = process.last_error()
    tally.check(f"model-studio train {path.name}")
    return tally


def through_window(window, *, probe: bool = False) -> WindowRun:
    """Press Run in the window and wait in a QEventLoop for the run's end; with `probe`, a 10 ms timer
    ticks meanwhile to find the event loop's stalls."""
    from PySide6.QtCore import QEventLoop, QTimer

    from studio.train import events

    session, panel = window.training, window.training.panel
    tally = Tally()
    marks: dict[str, float] = {}
    redraws: dict[str, int] = {}
    cpu: dict[str, float] = {}
    ticks = TickProbe()
    said: list[str] = []
    finished: list = []
    loop = QEventLoop()

    def on_updates(batch: list) -> None:  # after the panel's own slot: it has drawn what it will
        now = time.perf_counter()
        for event in batch:
            tally.take(event)
            if isinstance(event, events.Begin):
                marks["begin"], redraws["begin"], cpu["begin"] = now, panel.plot_redraws, time.process_time()
            elif isinstance(event, events.Batch) and (event.epoch, event.batch) == (event.epochs,
                                                                                     event.batches):
                marks["last_batch"] = now
            elif isinstance(event, events.End):
                marks["end"], redraws["end"], cpu["end"] = now, panel.plot_redraws, time.process_time()

    def on_finished(outcome) -> None:
        finished.append(outcome)
        loop.quit()

    def on_message(text: str, _error: bool) -> None:
        said.append(text)

    def press_run() -> None:
        ticks.tick()
        if not session.run():
            loop.quit()

    session.controller.updates.connect(on_updates)
    session.finished.connect(on_finished)
    session.message.connect(on_message)
    if probe:
        ticks.timer.start()
    QTimer.singleShot(0, press_run)
    QTimer.singleShot(RUN_TIMEOUT_S * 1000, loop.quit)
    loop.exec()
    ticks.timer.stop()
    ticks.tick()
    session.controller.updates.disconnect(on_updates)
    session.finished.disconnect(on_finished)
    session.message.disconnect(on_message)
    if not finished:
        if session.running:
            session.controller.shutdown(timeout_s=5)
            raise SystemExit(f"bench_gui_training: the window's run did not end within {RUN_TIMEOUT_S} s")
        raise SystemExit(f"bench_gui_training: Run did not start in the window: {said[-1] if said else '?'}")
    outcome = finished[0]
    if outcome.error and not tally.message:
        tally.message = outcome.error
    tally.check("the window's run")
    settle(window)
    span = max(marks["end"] - marks["begin"], 1e-9)
    begin, last = marks["begin"], marks.get("last_batch", marks["end"])
    # A gap belongs to training when it lies wholly between the begin event and the last batch; the
    # others hold loading the data, validating the last epoch and recording the run.
    inside = [(gap, work) for at, gap, work in ticks.gaps() if begin <= at and at + gap <= last]
    outside = [gap for at, gap, _ in ticks.gaps() if not (begin <= at and at + gap <= last)]
    stall = max(inside, default=(0.0, 0.0))
    return WindowRun(tally, redraws_per_s=(redraws["end"] - redraws["begin"]) / span,
                     cpu_share=(cpu["end"] - cpu["begin"]) / span,
                     stall_ms=stall[0] * 1e3, stall_cpu_ms=stall[1] * 1e3,
                     busiest_ms=max((work for _, work in inside), default=0.0) * 1e3,
                     around_ms=max(outside, default=0.0) * 1e3)


def machine_stall(threads: int) -> float:
    """The probe's longest gap, in ms, in the idle window while `threads` busy loops stand in for the
    trainer's threads: what the machine's scheduler gives with no window work at all."""
    from PySide6.QtCore import QEventLoop, QTimer

    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(threads)]
    ticks = TickProbe()
    try:
        loop = QEventLoop()
        QTimer.singleShot(int(BASELINE_S * 1000), loop.quit)
        ticks.tick()
        ticks.timer.start()
        loop.exec()
        ticks.timer.stop()
        ticks.tick()
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    return max((gap for _, gap, _ in ticks.gaps()), default=0.0) * 1e3


def settle(window) -> None:
    """Wait until the window's work after a run is over (the Results dock loading the new run, a warm
    training process importing torch), so it does not land in the next measurement of either way."""
    from PySide6.QtCore import QEventLoop, QTimer

    runner = getattr(getattr(window, "results", None), "runner", None)
    controller = window.training.controller
    deadline = time.perf_counter() + 120

    def busy() -> bool:
        warming = controller.keep_warm and controller.warm.alive and not controller.warm.ready.is_set()
        return bool(warming or (runner is not None and runner.busy))

    while busy() and time.perf_counter() < deadline:
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()


def open_window():
    from PySide6.QtCore import QSettings

    from studio.gui.app import application
    from studio.gui.main_window import MainWindow

    application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # never touch the user's settings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="bench-settings-"))
    window = MainWindow(probe_device=False)
    window.resize(1440, 900)
    window.show()
    window.training.show_panel()  # the Training dock in front, its curves on screen
    window.training.panel.ensure_plots()
    return window


def listed(values, spec: str = ",.1f") -> str:
    return ", ".join(format(value, spec) for value in values)


def check(name: str, value: str, ok: bool, target: str) -> bool:
    print(f"  {name:<40} {value:>9}   target {target:<9} {'PASS' if ok else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds per project (default 5)")
    parser.add_argument("--probe-runs", type=int, default=2,
                        help="window runs per project with the stall probe ticking (default 2)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.probe_runs < 1:
        parser.error("--rounds and --probe-runs must be at least 1")

    from studio.gui.training.worker import gui_threads, usable_cores

    started_load = os.getloadavg()[0]  # other work on the machine moves these figures most
    cores = usable_cores()
    threads = gui_threads(0, cores)  # what the window picks; written into the project for both ways
    window = open_window()
    keep_warm = window.training.controller.keep_warm
    print(f"{cores} cores; training with {threads} thread{'s' if threads > 1 else ''} both ways; "
          f"the window {'keeps' if keep_warm else 'does not keep'} a warm training process")
    ratios: dict[str, float] = {}
    redraw_rates: dict[str, list[float]] = {}
    probes: list[WindowRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-gui-training-") as folder:
        for name, source, dataset, training in PROJECTS:
            plain_path, window_path = (write_project(Path(folder), source, dataset, training, threads, way)
                                       for way in ("headless", "window"))
            if not window.files.load(window_path):
                raise SystemExit(f"bench_gui_training: the window could not open {window_path.name}")
            device = window.training.controls.device  # what Run uses; the headless run gets the same
            # Warm-ups: first-call costs (the plots' first paint, the disk cache) land in neither column.
            headless(plain_path, device, threads)
            through_window(window)
            plain: list[Tally] = []
            shown: list[WindowRun] = []
            for round_number in range(args.rounds):
                if round_number % 2:
                    shown.append(through_window(window))
                    plain.append(headless(plain_path, device, threads))
                else:
                    plain.append(headless(plain_path, device, threads))
                    shown.append(through_window(window))
            probed = [through_window(window, probe=True) for _ in range(args.probe_runs)]
            probes += probed
            pairs = [w.tally.samples_per_s / h.samples_per_s for w, h in zip(shown, plain, strict=True)]
            ratios[name] = statistics.median(pairs)
            redraw_rates[name] = [run.redraws_per_s for run in shown]
            busy = statistics.median(run.cpu_share for run in shown)
            print(f"\n{name} on {device}: samples/s headless {listed(t.samples_per_s for t in plain)}; "
                  f"window {listed(r.tally.samples_per_s for r in shown)}")
            print(f"  ratios window/headless {listed(pairs, '.3f')}: median {ratios[name]:.3f}")
            print(f"  curve redraws a second {listed(redraw_rates[name])}; the window's process kept "
                  f"{busy:.0%} of a core busy while training")
            print(f"  longest stalls while training {listed(r.stall_ms for r in probed)} ms (the GUI thread "
                  f"working {listed(r.stall_cpu_ms for r in probed)} ms of them), around it "
                  f"{listed((r.around_ms for r in probed), '.0f')} ms")
    machine = machine_stall(threads)
    window.doc.undo_stack.setClean()
    window.close()

    redraws = statistics.median(redraw_rates["digits"])
    worst = max(probes, key=lambda run: run.stall_ms)
    stall = worst.stall_ms
    loops = f"{threads} busy loop{'s' if threads > 1 else ''}"  # standing in for the trainer's threads
    print(f"\nThe longest stall: the GUI thread worked {worst.stall_cpu_ms:.1f} ms of its {stall:.1f} ms and "
          "waited for a core the rest;")
    print(f"  its most work between two ticks while training: {max(r.busiest_ms for r in probes):.1f} ms;")
    print(f"  the idle window beside {loops}, {BASELINE_S:.0f} s: longest gap {machine:.1f} ms;")
    print(f"  around training (loading, recording): longest gap {max(r.around_ms for r in probes):.0f} ms;")
    print(f"  load average {started_load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.")
    print("Targets (redraws: the median of the digits runs; stall: the longest of all probe runs):")
    passed = [check(f"window/headless throughput ({name})", f"{ratio:.3f}", ratio >= RATIO_TARGET,
                    f">= {RATIO_TARGET}") for name, ratio in ratios.items()]
    passed.append(check("curve redraws per second while training", f"{redraws:.1f}",
                        redraws >= REDRAW_TARGET_HZ, f">= {REDRAW_TARGET_HZ:.0f}"))
    passed.append(check("longest event-loop stall while training", f"{stall:.1f} ms",
                        stall <= STALL_TARGET_MS, f"<= {STALL_TARGET_MS:.0f} ms"))
    print(f"window/headless throughput: {ratios['digits']:.2f} (digits), {ratios['cats_vs_dogs']:.2f} "
          "(cats_vs_dogs)")
    print(f"curve redraws per second while training: {redraws:.1f}")
    print(f"longest event-loop stall while training: {stall:.1f} ms")
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
