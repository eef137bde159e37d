"""The document works without Qt, and reading a project does not import torch (the GUI opens fast)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys, tempfile, pathlib
    for name in ("PySide6", "shiboken6", "pyqtgraph"):
        sys.modules[name] = None  # any import of these now raises ImportError
    try:
        import PySide6  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the trick did not block PySide6")

    import studio.core.project as project
    import studio.core.catalog, studio.core.graph, studio.core.inference, studio.core.summary
    import studio.core.training_settings
    from studio.core.graph import ModelGraph
    from studio.core.summary import format_summary, summarize
    heavy = sorted(m for m in ("torch",) if m in sys.modules)
    assert not heavy, f"reading and summarising a project imported {heavy}"

    graph = ModelGraph()
    previous = None
    for type_name, params in LAYERS:
        node = graph.add_node(type_name, params=params)
        if previous is not None:
            graph.connect(previous.id, node.id)
        previous = node
    text = format_summary(summarize(graph))
    assert "Total params: 4,828,481 (18.42 MB)" in text, text

    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "seed.studio"
        saved = project.Project(graph=graph, name="seed")
        project.save_project(saved, path)
        loaded = project.load_project(path)
        assert loaded.to_dict() == saved.to_dict()
    assert "torch" not in sys.modules

    import torch
    import studio.core.build
    model = studio.core.build.build_model(loaded.graph)
    assert sum(p.numel() for p in model.parameters()) == 4_828_481
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 150, 150)).shape == (1, 1)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph")
                    and sys.modules[m] is not None)
    assert not leaked, leaked
    print("ok")
""")


def test_core_works_with_qt_unimportable():
    from .builders import SEED_LAYERS

    script = f"LAYERS = {SEED_LAYERS!r}\n" + SCRIPT
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip().endswith("ok")
