"""TorchScript export: the model traced on an example batch and saved for `torch.jit.load`.

Tracing (not scripting) because the studio's module runs its graph from a plan that TorchScript's
compiler cannot read; every catalog layer traces. The trace is checked on a batch of another size.
The file holds no text from the project: only the layers, under their names (validated identifiers).
"""

from __future__ import annotations

import io
import keyword
from pathlib import Path

import torch
from torch import nn

from studio.core.atomic import write_atomic
from studio.core.build import build_model
from studio.core.graph import ModelGraph
from studio.core.project import Project
from studio.interop.checks import Inputs, assert_close, export_or_explain, quiet_torch_warnings
from studio.interop.common import ExportModel, InteropError

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

    try:
        export_or_explain(model, project, FORMAT, convert)
    except InteropError:
        _explain_layer_names(project, model)
        raise
    write_atomic(path, saved[0])
    return "TorchScript (traced); load it with torch.jit.load"


def _explain_layer_names(project: Project, model: ExportModel) -> None:
    """A failed export's reason, when it is a layer's name: the traced code reaches each layer as an
    attribute named after it, which some names cannot be (most Python keywords, and attributes every
    torch module has: 'forward', 'training', '__dict__'). Each such name is tried on its own."""
    plain = nn.ModuleDict()
    for name in model.module.layers:
        if (keyword.iskeyword(name) or hasattr(plain, name)) and not _traces_as_layer_name(name):
            node = project.graph.node_by_name(name)
            kind = node.type if node is not None else "layer"
            raise InteropError(f"cannot export to {FORMAT}: it cannot hold a layer named '{name}' "
                               f"({kind}); rename the layer") from None


def _traces_as_layer_name(name: str) -> bool:
    """Whether a one-layer model with a layer named `name` traces, saves and loads."""
    probe = build_model(_probe_graph(name)).eval()
    example = torch.zeros(1, 1)
    try:
        with quiet_torch_warnings():
            buffer = io.BytesIO()
            torch.jit.save(torch.jit.trace(probe, (example,), check_trace=False), buffer)
            torch.jit.load(io.BytesIO(buffer.getvalue()))
    except Exception:  # torch fails in many ways here; any failure means the name is the cause
        return False
    return True


def _probe_graph(name: str) -> ModelGraph:
    graph = ModelGraph()
    source = graph.add_node("Input", name="probe_input", params={"kind": "vector", "features": 1})
    layer = graph.add_node("Dense", name=name, params={"units": 1})
    graph.connect(source.id, layer.id)
    return graph
