"""Atomic file writes: a crash or a full disk mid-save leaves the previous file intact."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes | Callable[[Path], None]) -> None:
    """Write `data` (bytes, or a function that writes a given temporary path) to `path` atomically.

    The temporary file lives in the same folder, so the final `os.replace` never crosses file systems.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would, or keep the
        # mode of the file it replaces.
        os.chmod(tmp, _mode_for(target))
        if callable(data):
            os.close(fd)
            data(tmp)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _read_umask() -> int:
    # os.umask can only be read by setting it; do that once, at import, before any worker thread runs.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_NEW_FILE_MODE = 0o666 & ~_read_umask()


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return _NEW_FILE_MODE
