"""TorchScript export: the model traced on an example batch and saved for `torch.jit.load`.

Tracing (not scripting) because the studio's module runs its graph from a plan that TorchScript's
compiler cannot read; every catalog layer traces. The trace is checked on a batch of another size.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from studio.core.atomic import write_atomic
from studio.core.project import Project
from studio.interop.checks import Inputs, assert_close, export_or_explain
from studio.interop.common import ExportModel

FORMAT = "TorchScript"


def export_torchscript(project: Project, model: ExportModel, path: Path) -> str:
    saved: list[bytes] = []

    def convert(module: nn.Module, example: Inputs, check: Inputs) -> None:
        # check_trace re-traces without gradients, where attention takes a different (fused) path and
        # the graphs then differ harmlessly; the comparison below is the real check.
        traced = torch.jit.trace(module, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
        loaded = torch.jit.load(io.BytesIO(buffer.getvalue()))
        with torch.no_grad():
            assert_close(loaded(*check), module(*check), "the traced model")
        saved.append(buffer.getvalue())

    export_or_explain(model, project, FORMAT, convert)
    write_atomic(path, saved[0])
    return "TorchScript (traced); load it with torch.jit.load"
