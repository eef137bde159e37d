"""Recovery files: each window's unsaved work, written now and then, so a crash loses little of it.

Every window document has its own file in a folder beside the settings, named after the process that
writes it and the window (`PID-N.studio`), with a small note beside it (`PID-N.json`) saying when that
process started and which project file the work belongs to. A file is offered back only once its writer
is gone, so no window ever overwrites, deletes or offers the work of a window that is still open.

The recovery file is a project file, read with the project loader like any other; the note is plain
JSON whose every field is checked, so a file someone else shaped is only ever data.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.atomic import write_atomic
from studio.core.project import SUFFIX, Project, load_project, to_json_text
from studio.core.safe_io import FileRefused, pid_alive, read_regular

NOTE_SUFFIX = ".json"
MAX_NOTE_BYTES = 64 * 1024
_NAME = re.compile(r"(\d{1,9})-(\d{1,9})")  # a longer number is no process id (and overflows os.kill)
_tokens = itertools.count(1)  # one per window document in this process


def process_started(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, on Linux), or None where that is unknown.

    Together with the pid it tells the writer of a file from a later process that got the same id."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the command name, in parentheses, may hold spaces
    try:
        return int(fields[19])  # field 22 of the line; the first two (pid, name) are before the ")"
    except (IndexError, ValueError):
        return None


@functools.cache
def _own_start() -> int | None:
    return process_started(os.getpid())


@dataclass(frozen=True)
class Recovery:
    """A recovery file found on disk and what its note says."""

    path: Path
    pid: int
    started: int | None  # when the writer started (see process_started), None where unknown
    source: Path | None  # the project file the work belongs to; None for an untitled project
    saved_at: float  # when it was last written (seconds since the epoch)

    @property
    def note(self) -> Path:
        return self.path.with_suffix(NOTE_SUFFIX)

    def writer_alive(self) -> bool:
        """Whether the process that wrote it still runs (a process that reuses its id does not count)."""
        if not pid_alive(self.pid):
            return False
        now = process_started(self.pid) if self.started is not None else None
        return now is None or now == self.started

    def load(self) -> Project:
        """The unsaved project, belonging to its own file again. ProjectError when it cannot be read."""
        project = load_project(self.path)
        project.path = self.source
        return project

    def remove(self) -> None:
        for path in (self.path, self.note):
            with contextlib.suppress(OSError):
                path.unlink()


class RecoveryFile:
    """The recovery file of one window document in this process; nobody else writes or removes it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"{os.getpid()}-{next(_tokens)}{SUFFIX}"

    def write(self, project: Project) -> None:
        """Write `project` (unsaved work) atomically, then its note. FileRefused or OSError on failure."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The project first: a crash between the two writes keeps the work (the note only adds to it).
        write_atomic(self.path, (to_json_text(project.to_dict()) + "\n").encode("utf-8"),
                     what="recovery file")
        note = {"pid": os.getpid(), "started": _own_start(),
                "source": os.path.abspath(project.path) if project.path is not None else None}
        write_atomic(self.path.with_suffix(NOTE_SUFFIX), json.dumps(note).encode("utf-8"),
                     what="recovery note")

    def discard(self) -> None:
        for path in (self.path, self.path.with_suffix(NOTE_SUFFIX)):
            with contextlib.suppress(OSError):
                path.unlink()


def orphans(folder: Path) -> list[Recovery]:
    """The recovery files in `folder` whose writer is gone, newest first. Notes left without their file
    by a writer that is gone are removed."""
    found: list[Recovery] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    names = {entry.name for entry in entries}
    for entry in entries:
        match = _NAME.fullmatch(Path(entry.name).stem)
        if match is None:
            continue  # a writer's temporary copy, or something else
        if entry.name.endswith(NOTE_SUFFIX) and match.group(0) + SUFFIX not in names:
            if not pid_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            continue
        if not entry.name.endswith(SUFFIX):
            continue
        recovery = _found(Path(entry.path), int(match.group(1)))
        if recovery is not None and not recovery.writer_alive():
            found.append(recovery)
    return sorted(found, key=lambda r: r.saved_at, reverse=True)


def _found(path: Path, pid: int) -> Recovery | None:
    try:
        saved_at = path.stat().st_mtime
    except OSError:
        return None  # removed meanwhile
    note = _read_note(path.with_suffix(NOTE_SUFFIX))
    started = note.get("started")
    source = note.get("source")
    return Recovery(path=path, pid=pid,  # the file's name, not its note, says whose it is
                    started=started if isinstance(started, int) and not isinstance(started, bool) else None,
                    source=Path(source) if _is_project_path(source) else None, saved_at=saved_at)


def _read_note(path: Path) -> dict[str, Any]:
    """The note's fields, or none when it is missing or unreadable (the work itself is still offered)."""
    try:
        data = json.loads(read_regular(path, "recovery note", limit=MAX_NOTE_BYTES).decode("utf-8"))
    except (FileRefused, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_project_path(value: Any) -> bool:
    return (isinstance(value, str) and "\0" not in value and value.endswith(SUFFIX)
            and Path(value).is_absolute())
