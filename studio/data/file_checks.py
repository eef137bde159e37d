"""Data files from strangers: only regular files are read, and anything else is named in words.

A named pipe or a device where a data file is expected would block a reader forever (or feed it without
end); these helpers look before they open and then open through `open_regular`, which refuses anything
swapped in between without blocking.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from studio.core.safe_io import FileRefused, describe_kind, open_regular, reason
from studio.data.base import DataError

MISSING = "missing"


def file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as a data file, in words that follow "is": "a named pipe", "a device",
    "a folder", "missing", "unreadable (permission denied)"; None for a readable regular file.

    Symlinks are followed: a link to a regular file is that file. Only stats, so it never blocks."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return MISSING  # also a link that points nowhere
    except OSError as exc:
        return f"unreadable ({reason(exc)})"
    if not stat.S_ISREG(mode):
        return describe_kind(mode)
    if not os.access(path, os.R_OK):
        return "unreadable (permission denied)"
    return None


def read_data_file(path: Path, *, setting: str | None = None, limit: int | None = None) -> bytes:
    """The bytes of a data file, or a DataError naming it when it is not a readable regular file.

    With `limit`, a file of more than `limit` bytes is refused before it fills the memory."""
    problem = file_problem(path)
    if problem == MISSING:
        raise DataError(f"the file {path} does not exist", setting=setting)
    if problem is not None:
        raise DataError(f"{path} is {problem}", setting=setting)
    try:
        with open_regular(path, "file") as handle:
            data = handle.read() if limit is None else handle.read(limit + 1)
    except FileRefused as exc:  # swapped for something else since it was looked at
        raise DataError(str(exc), setting=setting) from None
    except OSError as exc:
        raise DataError(f"cannot be read: {reason(exc)}", path=path) from None
    if limit is not None and len(data) > limit:
        raise DataError(f"is over {limit / 2**30:g} GiB, too large to load into memory", path=path)
    return data
