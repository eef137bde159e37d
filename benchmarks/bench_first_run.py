"""How long the first Run of a session takes to start training: with the warm process against without.

The window keeps one training process ready that has imported torch and the trainer (started when the
window is idle). This measures, in an offscreen window on the digits project, the time from pressing
Run to the training process' `begin` event (the first batch follows at once):
  * warm: after the window's warm process said it was ready;
  * cold: with no warm process, a fresh `model-studio train` process (the reference, same run).
Each is measured --rounds times in fresh windows, alternating; the medians are printed (target: warm
<= 1 s on the two-core development machine).
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_first_run.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_S = 1.0


def project_file(folder: Path) -> Path:
    data = json.loads((ROOT / "projects" / "digits_cnn.studio").read_text(encoding="utf-8"))
    data["training"].update({"epochs": 1})
    path = folder / "digits.studio"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def time_to_begin(app, path: Path, *, warm: bool) -> float:
    """Seconds from Run to the `begin` event in a fresh window."""
    from PySide6.QtCore import QEventLoop, QTimer

    from studio.gui.main_window import MainWindow
    from studio.train import events

    window = MainWindow(probe_device=False)
    window.show()
    assert window.files.load(path)
    controller = window.training.controller
    loop = QEventLoop()
    if warm:
        controller.keep_warm = True
        controller.prewarm()
        while not controller.warm.ready.wait(0.05):
            app.processEvents()
    began: list[float] = []

    def seen(batch) -> None:
        if not began and any(isinstance(event, events.Begin) for event in batch):
            began.append(time.perf_counter())

    controller.updates.connect(seen)
    window.training.finished.connect(lambda _outcome: loop.quit())
    QTimer.singleShot(300_000, loop.quit)
    pressed = time.perf_counter()
    assert window.training.run()
    loop.exec()
    controller.shutdown()
    window.close()
    window.deleteLater()
    app.processEvents()
    if not began:
        raise SystemExit("the run never began")
    return began[0] - pressed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from studio.gui.app import application

    app = application()
    with tempfile.TemporaryDirectory() as folder:
        path = project_file(Path(folder))
        warm, cold = [], []
        for round_ in range(args.rounds):
            order = (True, False) if round_ % 2 == 0 else (False, True)
            for is_warm in order:
                (warm if is_warm else cold).append(time_to_begin(app, path, warm=is_warm))
        print(f"warm rounds: {', '.join(f'{t:.2f}' for t in warm)} s")
        print(f"cold rounds: {', '.join(f'{t:.2f}' for t in cold)} s")
        best = statistics.median(warm)
        verdict = "met" if best <= TARGET_S else "MISSED"
        print(f"first Run to training, warm process: {best:.2f} s (target {TARGET_S:.0f} s: {verdict}); "
              f"without it: {statistics.median(cold):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
