"""Exporting a project's model: the formats, where their files go, and which weights they carry."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from studio.core.project import Project
from studio.core.safe_io import write_target
from studio.interop.common import InteropError, model_for_export


@dataclass(frozen=True)
class ExportFormat:
    suffix: str  # default file: beside the project, NAME + suffix
    module: str  # the exporter, imported on use (exporters import torch)
    function: str
    carries_weights: bool = True


FORMATS: dict[str, ExportFormat] = {
    "pytorch": ExportFormat(".py", "studio.interop.export_pytorch", "export_pytorch", carries_weights=False),
    "torchscript": ExportFormat(".torchscript.pt", "studio.interop.export_torchscript", "export_torchscript"),
    "onnx": ExportFormat(".onnx", "studio.interop.export_onnx", "export_onnx"),
    "safetensors": ExportFormat(".safetensors", "studio.interop.export_safetensors", "export_safetensors"),
}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    description: str  # what was written, in a few words
    weights: str | None  # which weights the file holds; None for source code


def default_output(project: Project, format_name: str) -> Path:
    if project.path is None:
        raise InteropError("save the project first, or give an output file")
    return project.path.with_name(project.path.stem + FORMATS[format_name].suffix)


def own_files(project: Project) -> list[Path]:
    """The files an export must never replace: the project file and every file its runs refer to."""
    if project.path is None:
        return []
    own = [project.path, project.path.with_name(f"{project.path.stem}.checkpoint")]
    own += [project.path.with_name(str(run["weights"])) for run in project.runs if run.get("weights")]
    return own


def _check_not_own_file(project: Project, path: Path) -> None:
    target = Path(os.path.realpath(path))
    for own in own_files(project):
        real = Path(os.path.realpath(own))
        if target == real or real in target.parents:
            raise InteropError(f"{path} is part of the project ({own.name}); export to another file name")


def export_project(project: Project, format_name: str, output: str | Path | None = None,
                   run_id: str | None = None) -> ExportResult:
    """Write the project's model in `format_name` (atomically) to `output`, by default beside the
    project. Weights: those of `run_id`, else of the latest trained run, else fresh ones."""
    if format_name not in FORMATS:
        raise InteropError(f"unknown export format {format_name!r}; known: {', '.join(FORMATS)}")
    path = Path(output) if output is not None else default_output(project, format_name)
    if path.is_dir():
        raise InteropError(f"{path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise InteropError(f"cannot write {path}: the folder {path.parent} does not exist")
    write_target(path, "export")  # a pipe or a device is refused before any work
    _check_not_own_file(project, path)
    model = model_for_export(project, run_id)
    fmt = FORMATS[format_name]
    exporter = getattr(importlib.import_module(fmt.module), fmt.function)
    description = exporter(project, model, path)
    return ExportResult(path, description, model.weights if fmt.carries_weights else None)
