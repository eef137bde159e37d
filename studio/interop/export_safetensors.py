"""Safetensors export: the chosen weights, with the project's name and graph as metadata.

The metadata is text in the file's JSON header, read back as data only. A name holding characters UTF-8
cannot encode (lone surrogates, which a JSON project file can spell) is written with their escapes.
"""

from __future__ import annotations

from pathlib import Path

from studio.core.project import Project
from studio.interop.common import ExportModel
from studio.train.checkpoints import json_metadata, save_weights


def export_safetensors(project: Project, model: ExportModel, path: Path) -> str:
    metadata = json_metadata(format="model-studio-weights", project=metadata_text(project.name),
                             run=model.run_id or "", input_shape=list(model.input_shape.dims),
                             graph=project.graph.to_dict())
    save_weights(model.module, path, metadata=metadata)
    return "safetensors weights with the project's name and graph as metadata"


def metadata_text(text: str) -> str:
    """`text`, with any character UTF-8 cannot encode written as its backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
