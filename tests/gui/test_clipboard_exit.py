"""Copied layers must not crash the process when the studio exits."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from studio.core.graph import ModelGraph
from studio.gui.app import application
from studio.gui.clipboard import copy_to_clipboard

application()
graph = ModelGraph()
node = graph.add_node("Dense")
assert copy_to_clipboard(graph, [node.id]) == 1
"""


def test_exit_after_copying_layers_is_clean():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
