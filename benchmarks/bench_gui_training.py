"""What watching a run in the window costs: training through the GUI against the engine alone.

Trains the digits CNN (10 epochs) and the slides' cats-vs-dogs CNN (on generated 150x150 RGB shapes, two
classes, batch 20, 1 epoch) each way, after one untimed warm-up each way, in one process with the same
settings and threads. Each round trains once each way, back to back, the order alternating from round
to round:
  * headless: `prepare_training(project).run()`, nothing listening;
  * GUI: an offscreen MainWindow with the Training dock in front, Run pressed, the run's end awaited in
    a QEventLoop.

Reports per project:
  * throughput: training samples a second over the trainer's own duration of the fit (data loading is
    outside it in both paths); the ratio GUI / headless of each round, and their median (target
    >= 0.95). A round's two runs share the machine's load of the moment, which on a shared machine
    moves the figures of separate runs by more than the window costs; the ratio of the best runs each
    way is printed as context;
  * the longest stall of the GUI event loop while the model trains (from the run's first report to its
    last batch): the largest gap between the ticks of a 10 ms timer (target < 50 ms), in GUI runs of
    their own after the rounds: the probe wakes the window a hundred times a second, which a user's
    window does not do, so it stays out of the throughput rounds. The longest gap around pressing Run
    (loading the data) and recording the run is printed as context;
  * updates of the panel a second (target <= 30), and how often the curves were redrawn.
Absolute times are context only: these machines are noisy, the ratio is measured in the same run.
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_training.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

RATIO_TARGET = 0.95
STALL_TARGET_MS = 50.0
REDRAW_TARGET_HZ = 30.0
TICK_MS = 10
CATS_SAMPLES = 300  # 240 to train on, 60 to validate: 12 batches of 20


@dataclass
class Measure:
    samples_per_s: float
    stall_ms: float = 0.0  # longest event-loop gap while the model trained
    press_ms: float = 0.0  # longest gap around pressing Run and recording the run (context)
    redraws_per_s: float = 0.0  # updates of the panel (progress line, and the curves when due)
    curves_per_s: float = 0.0  # redraws of the curves


def write_projects(folder: Path, threads: int) -> dict[str, Path]:
    """Temp copies of the two projects with the benchmark's settings."""
    paths = {}
    for label, source, dataset, training in (
            ("digits CNN", "digits_cnn", None, {"epochs": 10}),
            ("cats-vs-dogs CNN", "cats_vs_dogs",
             {"name": "shapes", "settings": {"classes": 2, "image_size": [150, 150], "channels": "3",
                                             "n_samples": CATS_SAMPLES}},
             {"epochs": 1, "batch_size": 20})):
        data = json.loads((ROOT / "projects" / f"{source}.studio").read_text(encoding="utf-8"))
        data["training"].update({**training, "threads": threads})
        if dataset is not None:
            data["dataset"] = dataset
        path = folder / f"{source}.studio"
        path.write_text(json.dumps(data), encoding="utf-8")
        paths[label] = path
    return paths


def throughput(record: dict) -> float:
    """Training samples a second over the fit, as the trainer timed it."""
    return record["train_samples"] * len(record["epochs"]) / record["duration_s"]


def headless(path: Path) -> Measure:
    from studio.core.project import load_project
    from studio.runs import prepare_training

    job = prepare_training(load_project(path))
    record = job.run().to_dict()
    record["train_samples"] = int(job.data.train_x.shape[0])
    return Measure(throughput(record))


def through_window(window, path: Path, *, probe: bool = False) -> Measure:
    """Press Run in the window and wait in a QEventLoop for the run's end; with `probe`, a 10 ms timer
    ticks meanwhile to find the event loop's stalls."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    assert window.files.load(path)
    session = window.training
    plot_redraws = session.panel.plot_redraws
    ticks: list[float] = []
    updates: list[float] = []
    marks: dict[str, float] = {}
    began: dict = {}

    def on_updates(events: list) -> None:
        updates.append(time.perf_counter())
        for name, info in events:
            if name == "train_begin":
                began.update(info)
                marks["begin"] = time.perf_counter()
            elif name == "train_end":  # training is over; the engine now records the run
                marks["end"] = time.perf_counter()

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    session.controller.updates.connect(on_updates)
    loop = QEventLoop()
    finished: list = []

    def on_finished(outcome) -> None:
        finished.append(outcome)
        loop.quit()

    session.finished.connect(on_finished)

    def press_run() -> None:
        marks["press"] = time.perf_counter()
        ticks.append(marks["press"])
        if not session.run():
            loop.quit()

    if probe:
        timer.start()
    QTimer.singleShot(0, press_run)
    loop.exec()
    timer.stop()
    ticks.append(time.perf_counter())
    session.controller.updates.disconnect(on_updates)
    session.finished.disconnect(on_finished)
    if not finished or finished[0].record is None or finished[0].status != "completed":
        raise SystemExit(f"the GUI run of {path.name} did not complete: {finished and finished[0]}")
    record = dict(finished[0].record)
    record["train_samples"] = began["samples"]
    gaps = [(b - a, a) for a, b in zip(ticks, ticks[1:], strict=False)]
    # A gap belongs to training when it lies wholly between the first report and the last batch: the
    # gap that holds the run's end is the window recording the run (context, printed separately).
    training = [gap for gap, at in gaps if marks["begin"] <= at and at + gap <= marks["end"]]
    others = [gap for gap, at in gaps if not (marks["begin"] <= at and at + gap <= marks["end"])]
    span = marks["end"] - marks["press"]
    settle(window)
    return Measure(throughput(record), stall_ms=max(training, default=0.0) * 1e3,
                   press_ms=max(others, default=0.0) * 1e3,
                   redraws_per_s=len(updates) / span,
                   curves_per_s=(session.panel.plot_redraws - plot_redraws) / span)


def settle(window) -> None:
    """Wait until the Results dock has finished loading the new run, so its work in the background does
    not land in the next measurement."""
    from PySide6.QtCore import QEventLoop, QTimer

    runner = getattr(getattr(window, "results", None), "runner", None)
    if runner is None or not runner.busy:
        return
    loop = QEventLoop()
    runner.busy_changed.connect(lambda busy: None if busy else loop.quit())
    QTimer.singleShot(60_000, loop.quit)
    loop.exec()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="rounds per project (default 7)")
    parser.add_argument("--probe-rounds", type=int, default=3,
                        help="GUI runs per project with the stall probe ticking (default 3)")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QSettings

    from studio.gui.app import application
    from studio.gui.main_window import MainWindow
    from studio.gui.training.worker import gui_threads
    from studio.train.devices import cpu_count

    application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # never touch the user's settings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="bench-settings-"))
    threads = gui_threads(0, cpu_count())  # what the window picks; given to both paths
    window = MainWindow(probe_device=False)
    window.resize(1440, 900)
    window.show()
    window.training.show_panel()
    window.training.panel.ensure_plots()  # as when the dock is on screen: pyqtgraph is loaded already
    print(f"{cpu_count()} cores; training with {threads} thread{'s' if threads > 1 else ''} both ways")
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-gui-training-") as folder:
        for label, path in write_projects(Path(folder), threads).items():
            # Warm-ups: first-call costs (kernels, allocator, the plots' first paint) land in neither column.
            headless(path)
            through_window(window, path)
            plain, gui = [], []
            for round_number in range(args.rounds):
                if round_number % 2:
                    gui.append(through_window(window, path))
                    plain.append(headless(path))
                else:
                    plain.append(headless(path))
                    gui.append(through_window(window, path))
            probed = [through_window(window, path, probe=True) for _ in range(args.probe_rounds)]
            ratios = [g.samples_per_s / h.samples_per_s for g, h in zip(gui, plain, strict=True)]
            ratio = statistics.median(ratios)
            best = max(m.samples_per_s for m in gui) / max(m.samples_per_s for m in plain)
            stall = max(m.stall_ms for m in probed)
            press = max(m.press_ms for m in probed)
            redraws = max(m.redraws_per_s for m in gui + probed)
            curves = max(m.curves_per_s for m in gui + probed)
            checks = [("throughput GUI/headless", f"{ratio:.3f}", ratio >= RATIO_TARGET,
                       f">= {RATIO_TARGET}"),
                      ("longest event-loop stall", f"{stall:.1f} ms", stall < STALL_TARGET_MS,
                       f"< {STALL_TARGET_MS:.0f} ms"),
                      ("redraws a second", f"{redraws:.1f}", redraws <= REDRAW_TARGET_HZ,
                       f"<= {REDRAW_TARGET_HZ:.0f}")]
            print(f"\n{label}: samples/s headless "
                  f"{', '.join(f'{m.samples_per_s:,.0f}' for m in plain)}; GUI "
                  f"{', '.join(f'{m.samples_per_s:,.0f}' for m in gui)}; ratios "
                  f"{', '.join(f'{r:.3f}' for r in ratios)}")
            for name, value, ok, target in checks:
                print(f"  {name:<26} {value:>10}   target {target:<9} {'PASS' if ok else 'FAIL'}")
                failed |= not ok
            print(f"  (ratio of the best runs {best:.3f}; curves redrawn {curves:.1f} times a second; "
                  f"longest stall around pressing Run and recording the run: {press:.0f} ms)")
    window.doc.undo_stack.setClean()
    window.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
