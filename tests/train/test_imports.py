"""The engine imports without torch at first and without Qt at all."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_package_import_does_not_import_torch():
    done = run_python("""
        import sys
        import studio.train
        from studio.train import Callback, KerasProgress, RunResult, TrainingError
        assert "torch" not in sys.modules, "torch imported at package import"
        studio.train.Trainer  # the lazy names load on first use
        assert "torch" in sys.modules
    """)
    assert done.returncode == 0, done.stderr


def test_training_works_with_qt_unimportable():
    done = run_python("""
        import sys
        for name in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph"):
            sys.modules[name] = None
        import torch
        from torch import nn
        from types import SimpleNamespace
        from studio.train import Trainer
        x = torch.randn(32, 2); y = (x[:, 0] > 0).long()
        info = SimpleNamespace(task="classification", class_names=["a", "b"], num_outputs=2, input_shape=(2,))
        data = SimpleNamespace(train_x=x, train_y=y, val_x=x, val_y=y, info=info, augment=None)
        result = Trainer(nn.Linear(2, 2), data, {"epochs": 1, "device": "cpu"}).fit()
        assert result.status == "completed", result.message
        assert not any(m.startswith(("PySide6", "PyQt")) and sys.modules[m] is not None
                       for m in sys.modules)
    """)
    assert done.returncode == 0, done.stderr


def test_predict_is_the_function_even_after_its_module_was_imported():
    done = run_python("""
        import studio.train.predict
        from studio.train import predict
        assert callable(predict) and predict.__name__ == "predict"
    """)
    assert done.returncode == 0, done.stderr
