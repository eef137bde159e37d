"""The project's own error types: each carries a message a user can act on."""

from __future__ import annotations

from typing import Any


class StudioError(Exception):
    """Base of every error the studio reports to a user instead of a traceback."""


class ProjectError(StudioError):
    """A project file cannot be read: names the file and, where known, the field."""

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None):
        self.path = path
        self.field = field
        self.reason = message
        where = ", ".join(p for p in (path, f"field '{field}'" if field else None) if p)
        super().__init__(f"{where}: {message}" if where else message)


class GraphError(StudioError):
    """An edit or a graph that breaks the model's rules (cycle, dangling edge, bad parameter)."""

    def __init__(self, message: str, *, node: str | None = None, field: str | None = None):
        self.node = node
        self.field = field
        super().__init__(message)


class ShapeError(StudioError):
    """A layer cannot accept the shape it receives; the message says what to change."""


def json_kind(value: Any) -> str:
    """A value read from a JSON file, named in a file's terms ("a number", "a list"), not Python's."""
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "an object"}.get(type(value), "a value of another kind")


def failure_text(exc: BaseException) -> str:
    """An unexpected failure in a user's words: its own message, without the Python type name."""
    if isinstance(exc, StudioError):
        return str(exc)
    text = str(exc).strip()
    if isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower():
        return "ran out of memory; make layers smaller or the batch smaller"
    first = text.splitlines()[0] if text else ""
    return first or "an unexpected error (the details are in the log)"
