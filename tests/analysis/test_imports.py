"""The analysis package imports without Qt, and without torch or scikit-learn until they are used."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_analysis_works_with_qt_unimportable_and_imports_torch_only_when_used():
    code = textwrap.dedent("""
        import sys
        for name in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph"):
            sys.modules[name] = None
        import studio.analysis
        from studio.analysis import clustering, evaluation, features, images, predictions, projection, regions
        assert "torch" not in sys.modules and "sklearn" not in sys.modules, "imported at import time"
        import numpy as np
        x = np.concatenate([np.zeros((10, 3)), np.ones((10, 3)) * 5]).astype("float32")
        result = clustering.kmeans(x, 2)
        assert clustering.purity([0] * 10 + [1] * 10, result.labels) == 1.0
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
