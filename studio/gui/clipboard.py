"""Copying layers: a selection becomes a small graph in JSON, the same form as in project files."""

from __future__ import annotations

import atexit
import json
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from studio.core.errors import GraphError
from studio.core.graph import ModelGraph

MIME_TYPE = "application/x-model-studio-layers"
FORMAT = "model-studio-layers"


def fragment(graph: ModelGraph, node_ids: Iterable[str]) -> dict[str, Any]:
    """The chosen nodes and the edges between them (edges leaving the selection are not copied)."""
    chosen = set(node_ids)
    whole = graph.to_dict()
    return {
        "format": FORMAT,
        "nodes": [n for n in whole["nodes"] if n["id"] in chosen],
        "edges": [e for e in whole["edges"] if e["from"] in chosen and e["to"] in chosen],
    }


def parse_fragment(text: str) -> ModelGraph | None:
    """The graph in copied text, or None when the text is not copied layers (or is damaged)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    try:  # the clipboard can hold anything: validate it like a file
        return ModelGraph.from_dict(data)
    except GraphError:
        return None


def copy_to_clipboard(graph: ModelGraph, node_ids: Iterable[str]) -> int:
    data = fragment(graph, node_ids)
    if not data["nodes"]:
        return 0
    text = json.dumps(data, indent=1)
    mime = QMimeData()
    mime.setData(MIME_TYPE, text.encode("utf-8"))
    mime.setText(text)  # readable when pasted into an editor or a chat
    QGuiApplication.clipboard().setMimeData(mime)
    _release_at_exit()
    return len(data["nodes"])


_release_registered = False


def _release_at_exit() -> None:
    """Take our layers off the clipboard before Python exits: the bindings crash the process when
    the application is destroyed while the clipboard still holds mime data made in Python."""
    global _release_registered
    if not _release_registered:
        _release_registered = True
        atexit.register(_release)


def _release() -> None:
    if QGuiApplication.instance() is None:
        return
    mime = QGuiApplication.clipboard().mimeData()
    if mime is not None and mime.hasFormat(MIME_TYPE):
        QGuiApplication.clipboard().clear()


def fragment_from_clipboard() -> ModelGraph | None:
    mime = QGuiApplication.clipboard().mimeData()
    if mime is None:
        return None
    if mime.hasFormat(MIME_TYPE):
        return parse_fragment(bytes(mime.data(MIME_TYPE).data()).decode("utf-8", errors="replace"))
    return parse_fragment(mime.text()) if mime.hasText() else None


LAYER_MIME = "application/x-model-studio-layer-type"  # a palette entry being dragged: the layer type


def layer_mime(type_name: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(LAYER_MIME, type_name.encode("utf-8"))
    return mime


def layer_type(mime: QMimeData) -> str | None:
    if not mime.hasFormat(LAYER_MIME):
        return None
    return bytes(mime.data(LAYER_MIME).data()).decode("utf-8", errors="replace")
