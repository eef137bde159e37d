"""The open project as a Qt object: owns the Project, its analysis and the one undo stack.

Commands (studio.gui.commands) are the only callers of the mutating methods; every view redraws from
the `changed` signal, so the document, never a widget, is the source of truth.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from studio.core.errors import StudioError
from studio.core.graph import Edge, ModelGraph, Node
from studio.core.inference import GraphAnalysis, analyse
from studio.core.project import Project
from studio.core.training_settings import TRAINING_PARAMS

if TYPE_CHECKING:
    from studio.gui.commands import Edit

PROJECT_FIELDS = ("name", "description", "dataset", "training")


class Document(QObject):
    """One project being edited. `changed` fires once per edit (or batch), after the analysis is fresh."""

    changed = Signal()
    replaced = Signal()  # a different project was loaded: views rebuild, selection is gone
    refused = Signal(str)  # an edit the model's rules refuse (cycle, taken input, bad value)
    runs_changed = Signal()  # the project's recorded runs changed (a run finished); not an edit

    def __init__(self, project: Project | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.project = project or Project()
        self.analysis: GraphAnalysis = analyse(self.project.graph)
        self._batch_depth = 0
        self._dirty = False
        self._lock_reason = ""  # while set, every edit is refused with this reason (a run is training)

    # --- whole-project operations ----------------------------------------------------------------------

    @property
    def graph(self) -> ModelGraph:
        return self.project.graph

    def replace(self, project: Project, *, modified: bool = False) -> bool:
        """Show another project; the undo history belongs to the old one and is dropped. Refused (False)
        while locked: a training run records into the project shown."""
        if self._lock_reason:
            self.refused.emit(self._lock_reason)
            return False
        self.project = project
        self.undo_stack.clear()
        if modified:
            self.undo_stack.resetClean()  # no state of the (empty) history equals what is on disk
        self.analysis = analyse(project.graph)
        self.replaced.emit()
        self.changed.emit()
        return True

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def push(self, command: Edit) -> bool:
        """Run `command` and record it; an edit the rules refuse is reported via `refused` instead."""
        if self._lock_reason:
            self.refused.emit(self._lock_reason)
            return False
        try:
            command.redo()
        except StudioError as exc:
            self.refused.emit(str(exc))
            return False
        command.applied = True  # QUndoStack.push calls redo() again; the command skips that one
        self.undo_stack.push(command)
        return True

    def undo(self) -> None:
        if self._lock_reason:
            self.refused.emit(self._lock_reason)
        else:
            self.undo_stack.undo()

    def redo(self) -> None:
        if self._lock_reason:
            self.refused.emit(self._lock_reason)
        else:
            self.undo_stack.redo()

    # --- read-only while training ----------------------------------------------------------------------

    @property
    def locked(self) -> str:
        """Why the project may not be edited now, or "" when it may."""
        return self._lock_reason

    def lock(self, reason: str) -> None:
        self._lock_reason = reason

    def unlock(self) -> None:
        self._lock_reason = ""

    def set_runs(self, runs: list[dict[str, Any]], *, saved: bool = True) -> None:
        """Show the runs recorded in the project file (a run ended, or a save merged in runs recorded
        elsewhere). Not an edit: the runs are already in the file, so no undo step, and "modified" stays
        as it was (unsaved edits stay unsaved) unless the file could not be written: then it needs a save."""
        self.project.runs = copy.deepcopy(runs)
        if not saved:
            self.undo_stack.resetClean()
        self.runs_changed.emit()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group edits so views and the analysis update once, at the end."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0 and self._dirty:
                self._dirty = False
                self.analysis = analyse(self.graph)
                self.changed.emit()

    def _touched(self) -> None:
        if self._batch_depth:
            self._dirty = True
        else:
            self.analysis = analyse(self.graph)
            self.changed.emit()

    # --- primitive edits (called by commands) ---------------------------------------------------------

    def add_node(self, type_name: str, *, name: str | None, params: Mapping[str, Any],
                 pos: tuple[float, float], node_id: str | None) -> Node:
        node = self.graph.add_node(type_name, name=name, params=params, pos=pos, node_id=node_id)
        self._touched()
        return node

    def remove_node(self, node_id: str) -> tuple[Node, int, list[tuple[int, Edge]]]:
        """Remove a node and its edges; returns what `restore_node` needs to put them back exactly."""
        graph = self.graph
        index = list(graph.nodes).index(node_id)
        edges = [(i, e) for i, e in enumerate(graph.edges) if node_id in (e.src, e.dst)]
        node = graph.remove_node(node_id)
        self._touched()
        return node, index, edges

    def restore_node(self, node: Node, index: int, edges: list[tuple[int, Edge]]) -> None:
        graph = self.graph
        items = list(graph.nodes.items())
        items.insert(index, (node.id, node))
        graph.nodes = dict(items)
        for i, edge in edges:  # ascending indices: each lands where it was
            graph.edges.insert(i, edge)
        self._touched()

    def connect(self, src: str, dst: str, port: int | None) -> Edge:
        edge = self.graph.connect(src, dst, port)
        self._touched()
        return edge

    def disconnect(self, edge: Edge) -> int:
        index = self.graph.edges.index(edge)
        self.graph.disconnect(edge)
        self._touched()
        return index

    def restore_edge(self, edge: Edge, index: int) -> None:
        self.graph.edges.insert(index, edge)
        self._touched()

    def remove_edge(self, edge: Edge) -> None:
        self.graph.disconnect(edge)
        self._touched()

    def set_params(self, node_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        previous = self.graph.set_params(node_id, values)
        self._touched()
        return previous

    def rename(self, node_id: str, name: str) -> str:
        node = self.graph.node(node_id)
        old = node.name
        self.graph.rename(node_id, name)
        self._touched()
        return old

    def move(self, positions: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        previous = {nid: self.graph.node(nid).pos for nid in positions}
        for nid, pos in positions.items():
            self.graph.move(nid, pos)
        self._touched()
        return previous

    def set_field(self, key: str, value: Any) -> Any:
        """Replace a project-level field (name, description, dataset, training); returns the old value."""
        if key not in PROJECT_FIELDS:
            raise ValueError(f"not a project field: {key}")
        value = copy.deepcopy(value)
        if key in ("name", "description") and not isinstance(value, str):
            raise StudioError(f"the project {key} must be text")
        if key == "training":
            value = _validated_training(value)
        old = getattr(self.project, key)
        setattr(self.project, key, value)
        self._touched()
        return old


def _validated_training(values: Mapping[str, Any]) -> dict[str, Any]:
    from studio.core.params import ParamValueError

    try:
        return TRAINING_PARAMS.validate(values)
    except ParamValueError as exc:
        raise StudioError(f"training setting {exc}") from None
