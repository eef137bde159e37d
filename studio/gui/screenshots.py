"""Screenshots of the studio window for review: `python -m studio.gui.screenshots [FOLDER]`.

Writes the default digits project, the cats-vs-dogs CNN and a project with problems, in the light and
the dark palette, to build/screenshots/ (or FOLDER). Runs without a display (offscreen).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from studio.core.graph import ModelGraph
from studio.core.project import Project

ROOT = Path(__file__).resolve().parents[2]


def cats_vs_dogs_graph() -> ModelGraph:
    """The Keras seed CNN (4,828,481 parameters), built with the core API."""
    graph = ModelGraph()
    layers = [("Input", {"kind": "image", "channels": 3, "height": 150, "width": 150}),
              ("Conv2D", {"filters": 32}), ("MaxPool2D", {}), ("Conv2D", {"filters": 64}), ("MaxPool2D", {}),
              ("Conv2D", {"filters": 128}), ("MaxPool2D", {}), ("Flatten", {}),
              ("Dense", {"units": 128, "activation": "relu"}),
              ("Dense", {"units": 1, "activation": "sigmoid"})]
    previous = None
    for i, (type_name, params) in enumerate(layers):
        node = graph.add_node(type_name, params=params, pos=(i * 200.0, 0.0))
        if previous is not None:
            graph.connect(previous, node.id)
        previous = node.id
    return graph


def broken_project() -> Project:
    """The seed CNN on 16x16 images (the third convolution no longer fits) plus a loose Dense layer."""
    graph = cats_vs_dogs_graph()
    graph.set_params("n1", {"height": 16, "width": 16})
    graph.add_node("Dense", params={"units": 10}, pos=(1000.0, 160.0))
    return Project(graph=graph, name="broken_cnn", description="A model with problems, for the screenshots.")


def _scenes() -> list[tuple[str, Callable[[], Project]]]:
    from studio.core.project import load_project

    def example(name: str, fallback: Callable[[], ModelGraph]) -> Callable[[], Project]:
        def make() -> Project:
            path = ROOT / "projects" / f"{name}.studio"
            if path.is_file():
                return load_project(path)
            return Project(graph=fallback(), name=name)
        return make

    return [("digits", example("digits_cnn", cats_vs_dogs_graph)),
            ("cats_vs_dogs", example("cats_vs_dogs", cats_vs_dogs_graph)),
            ("problems", broken_project)]


def _settle(ms: int = 30) -> None:
    """Run the event loop briefly, so posted layout requests are handled before grabbing."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def capture(folder: Path, theme_name: str) -> list[Path]:
    """Save one PNG per project in `theme_name` ("light" or "dark")."""
    from studio.gui import theme
    from studio.gui.app import application
    from studio.gui.main_window import MainWindow

    theme.apply_theme(application(), theme_name)
    written = []
    for label, make in _scenes():
        window = MainWindow(probe_device=False)
        window.set_devices([("cpu", "CPU")])  # what the background probe finds on a machine without a GPU
        window.resize(1440, 900)
        window.doc.replace(make())
        window.show()
        problems = window.doc.analysis.problems
        if problems:
            window.bottom_tabs.setCurrentWidget(window.problems)
            node = next((p.node for p in problems if p.node), None)
            if node:
                window.scene.select_nodes([node])
        else:
            second = list(window.doc.graph.nodes)[1:2]
            window.scene.select_nodes(second)
        _settle()  # let the docks and the inspector take their final sizes
        window.view.show_model()
        path = folder / f"{label}_{theme_name}.png"
        window.grab().save(str(path))
        written.append(path)
        if label == "digits":  # and zoomed in to 100 %, where each node shows all it knows
            window.view.resetTransform()
            window.view.centerOn(window.scene.node_items[list(window.doc.graph.nodes)[2]])
            path = folder / f"{label}_zoomed_{theme_name}.png"
            window.grab().save(str(path))
            written.append(path)
        window.doc.undo_stack.setClean()
        window.close()
        window.deleteLater()
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from studio.gui.app import application

    application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # never touch the user's settings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="studio-shots-"))
    folder = Path(argv[0]) if argv else ROOT / "build" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for theme_name in ("light", "dark"):
        for path in capture(folder, theme_name):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
