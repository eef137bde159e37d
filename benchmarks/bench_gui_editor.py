"""How fast the editor window is with a large model (300 layers).

Measures, as medians over repeated runs:
  * launch to window shown: a fresh `python -m studio FILE` process, timed from launch until the window
    reports it is on screen (MODEL_STUDIO_EXIT_WHEN_SHOWN makes it print that and quit);
  * load: opening the 300-layer project in a running window (parse, analyse, build every item);
  * edit to screen: changing the Input size in the inspector until every shape downstream is updated
    and the canvas has repainted.

Targets: window shown < 1.5 s, edit < 16 ms (one frame at 60 Hz). Because these machines are noisy,
each figure also comes with a reference measured in the same run: launching a bare Qt window, and the
core's own `analyse()` of the same model (the work no editor can skip).
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_editor.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHOWN_TARGET_S = 1.5
EDIT_TARGET_MS = 16.0
LAYERS = 300


def residual_model(layers: int = LAYERS):
    """A ResNet-like image model with `layers` nodes: residual blocks of conv, norm, ReLU and Add."""
    from studio.core.graph import ModelGraph
    from studio.core.project import Project
    from studio.gui.canvas.layout import auto_layout

    graph = ModelGraph()
    x = graph.add_node("Input", params={"kind": "image", "channels": 3, "height": 32, "width": 32}).id
    x = _chain(graph, x, [("Conv2D", {"filters": 16, "padding": "same"}), ("BatchNorm", {}), ("ReLU", {})])
    while len(graph.nodes) + 7 + 3 <= layers:
        block = _chain(graph, x, [("Conv2D", {"filters": 16, "padding": "same"}), ("BatchNorm", {}),
                                  ("ReLU", {}), ("Conv2D", {"filters": 16, "padding": "same"}),
                                  ("BatchNorm", {})])
        add = graph.add_node("Add").id
        graph.connect(block, add)
        graph.connect(x, add)
        x = _chain(graph, add, [("ReLU", {})])
    while len(graph.nodes) < layers - 2:
        x = _chain(graph, x, [("Dropout", {"rate": 0.1})])
    _chain(graph, x, [("GlobalAvgPool2D", {}), ("Dense", {"units": 10, "activation": "softmax"})])
    for nid, pos in auto_layout(graph).items():
        graph.move(nid, pos)
    return Project(graph=graph, name="resnet300")


def _chain(graph, start: str, layers: list[tuple[str, dict]]) -> str:
    for type_name, params in layers:
        node = graph.add_node(type_name, params=params).id
        graph.connect(start, node)
        start = node
    return start


BARE_QT = ("import sys; from PySide6.QtCore import QTimer; from PySide6.QtWidgets import QApplication, "
           "QMainWindow; app = QApplication(sys.argv); w = QMainWindow(); w.show(); "
           "QTimer.singleShot(0, lambda: (print('shown', flush=True), app.quit())); app.exec()")


def launch_times(path: Path | None, runs: int) -> list[float]:
    """Seconds from starting a studio process (or, with no path, a bare Qt window) until it is shown."""
    times = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MODEL_STUDIO_EXIT_WHEN_SHOWN": "1", "XDG_CONFIG_HOME": home,
               "QT_QPA_PLATFORM": os.environ["QT_QPA_PLATFORM"]}
        for _ in range(runs):
            start = time.perf_counter()
            command = [sys.executable, "-m", "studio", str(path)] if path else [sys.executable, "-c", BARE_QT]
            process = subprocess.Popen(command, cwd=ROOT, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            line = process.stdout.readline() if process.stdout else ""
            elapsed = time.perf_counter() - start
            process.wait(timeout=60)
            if not line.startswith("shown"):
                raise SystemExit(f"the window did not report being shown (got {line!r})")
            times.append(elapsed)
    return times


def in_window_times(path: Path, runs: int) -> dict[str, list[float] | int]:
    """Load and edit-to-screen seconds, measured in one running window, at the opening view and
    zoomed out as far as the view goes (the most layers drawn)."""
    from PySide6.QtCore import QSettings

    from studio.gui.app import application
    from studio.gui.main_window import MainWindow

    application()
    with tempfile.TemporaryDirectory() as settings:
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings)
        window = MainWindow(probe_device=False)
        window.resize(1440, 900)
        window.show()
        results: dict[str, list[float] | int] = {"load": []}
        for _ in range(runs):
            start = time.perf_counter()
            window.files.load(path)
            window.view.show_model()
            draw(window)
            results["load"].append(time.perf_counter() - start)  # type: ignore[union-attr]
        results["edit"], results["in_view"] = edit_times(window, runs * 10)
        results["analyse"] = analyse_times(window, runs * 10)
        window.view.fit()
        results["edit_all"], results["in_view_all"] = edit_times(window, runs * 10)
        window.doc.undo_stack.setClean()
        window.close()
    return results


def analyse_times(window, count: int) -> list[float]:
    """The reference: the core's shape inference of the same model, without any window work."""
    from studio.core.inference import analyse

    times = []
    for _ in range(count):
        start = time.perf_counter()
        analyse(window.doc.graph)
        times.append(time.perf_counter() - start)
    return times


def edit_times(window, count: int) -> tuple[list[float], int]:
    """Change the Input height with the inspector's spin box `count` times; seconds until drawn."""
    graph = window.doc.graph
    input_id = next(nid for nid, node in graph.nodes.items() if node.type == "Input")
    last_add = [nid for nid, node in graph.nodes.items() if node.type == "Add"][-1]
    window.scene.select_nodes([input_id])
    height = window.inspector.node_page.form("Input").editor("height")
    times = []
    for i in range(count):
        size = height.value() + (8 if i % 2 else -8)
        start = time.perf_counter()
        height.setValue(size)  # the inspector's own widget: command, analysis, items
        draw(window)
        times.append(time.perf_counter() - start)
        shown = window.scene.node_items[last_add].look.shape
        if f"{size}, 32)" not in shown:
            raise SystemExit(f"shapes were not updated: {shown}")
    view = window.view
    in_view = [item for item in window.scene.items(view.mapToScene(view.viewport().rect()).boundingRect())
               if hasattr(item, "node_id")]
    return times, len(in_view)


def draw(window) -> None:
    """Paint the canvas now. Off screen a window is never exposed, so `repaint()` draws nothing;
    grabbing the viewport renders every visible item, which is what the screen would show."""
    window.view.viewport().grab()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from studio.core.project import save_project

    with tempfile.TemporaryDirectory() as folder:
        path = save_project(residual_model(), Path(folder) / "resnet300.studio")
        bare_launch = launch_times(None, args.runs)
        empty_launch = launch_times(ROOT / "projects" / "digits_cnn.studio", args.runs)
        big_launch = launch_times(path, args.runs)
        measured = in_window_times(path, args.runs)

    def ms(values) -> float:
        return statistics.median(values) * 1000

    def verdict(ok: bool) -> str:
        return "ok" if ok else "SLOW"

    shown, shown_big = statistics.median(empty_launch), statistics.median(big_launch)
    bare, inference = statistics.median(bare_launch), ms(measured["analyse"])
    edit, edit_all = ms(measured["edit"]), ms(measured["edit_all"])
    print(f"GUI editor benchmark: {LAYERS}-layer residual model, medians of {args.runs} launches / "
          f"{args.runs * 10} edits")
    target = f"target < {SHOWN_TARGET_S} s"
    print(f"  launch to window shown, digits example     {shown:7.3f} s    {target}   "
          f"{verdict(shown < SHOWN_TARGET_S)}")
    print(f"  launch to window shown, {LAYERS} layers        {shown_big:7.3f} s    {target}   "
          f"{verdict(shown_big < SHOWN_TARGET_S)}")
    print(f"  reference: bare Qt window shown            {bare:7.3f} s")
    print(f"  load the {LAYERS}-layer project                 {ms(measured['load']):7.1f} ms")
    target = f"target < {EDIT_TARGET_MS:g} ms"
    print(f"  edit to shapes on screen, opening view     {edit:7.1f} ms   {target}   "
          f"{verdict(edit < EDIT_TARGET_MS)}  ({measured['in_view']} layers in view)")
    print(f"  edit to shapes on screen, zoomed out       {edit_all:7.1f} ms   {target}   "
          f"{verdict(edit_all < EDIT_TARGET_MS)}  ({measured['in_view_all']} layers in view)")
    print(f"  reference: core analyse() of the model     {inference:7.1f} ms")
    print(f"  ratios to target: shown {shown / SHOWN_TARGET_S:.2f}, edit {edit / EDIT_TARGET_MS:.2f}, "
          f"edit zoomed out {edit_all / EDIT_TARGET_MS:.2f}")
    print(f"  ratios to reference: shown / bare Qt {shown / bare:.2f}, edit / analyse {edit / inference:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
