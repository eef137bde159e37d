"""ONNX export with torch's TorchScript-based exporter, opset 17, and a dynamic batch axis.

torch 2.9+ defaults to the torch.export-based exporter, which needs the separate `onnxscript` package;
the TorchScript-based one needs nothing beyond torch and exports every catalog layer. When onnxruntime
is installed the exported model is also run and compared with the studio's. The file holds no text
from the project: its inputs and output have fixed names, its nodes are named after the layers
(validated identifiers), and it carries no metadata.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from studio.core.atomic import write_atomic
from studio.core.project import Project
from studio.interop.checks import Inputs, assert_close, export_or_explain
from studio.interop.common import ExportModel

FORMAT = "ONNX"
OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"


def export_onnx(project: Project, model: ExportModel, path: Path) -> str:
    saved: list[bytes] = []

    def convert(module: nn.Module, example: Inputs, check: Inputs) -> None:
        data = onnx_bytes(module, example)
        if importlib.util.find_spec("onnxruntime") is not None:
            with torch.no_grad():
                assert_close(run_onnx(data, check), module(*check), "the ONNX model")
        saved.append(data)

    export_or_explain(model, project, FORMAT, convert)
    write_atomic(path, saved[0])
    checked = " (checked with onnxruntime)" if importlib.util.find_spec("onnxruntime") else ""
    return f"ONNX opset {OPSET}, input '{INPUT_NAME}' with a dynamic batch axis{checked}"


def input_names(count: int) -> list[str]:
    return [INPUT_NAME] if count == 1 else [f"{INPUT_NAME}_{i}" for i in range(count)]


def onnx_bytes(module: nn.Module, example: tuple[torch.Tensor, ...]) -> bytes:
    names = input_names(len(example))
    # Older torch has only this exporter and no `dynamo` switch.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    buffer = io.BytesIO()
    batch_axes = {name: {0: "batch"} for name in [*names, OUTPUT_NAME]}
    with _native_output_silenced():
        torch.onnx.export(module, example, buffer, opset_version=OPSET, input_names=names,
                          output_names=[OUTPUT_NAME], dynamic_axes=batch_axes, **legacy)
    return buffer.getvalue()


@contextmanager
def _native_output_silenced() -> Iterator[None]:
    """The exporter prints its whole graph from C++ when an operator fails; the error says enough."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def run_onnx(data: bytes, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The model's output on `inputs`, computed by onnxruntime (which must be installed)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = {name: x.numpy() for name, x in zip(input_names(len(inputs)), inputs, strict=True)}
    return torch.from_numpy(session.run([OUTPUT_NAME], feed)[0])
