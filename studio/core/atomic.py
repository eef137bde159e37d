"""Atomic file writes: a crash or a full disk mid-save leaves the previous file intact.

The temporary copy is a hidden file in the same folder named after the target and the writing
process (`.NAME.PID.XXXX.tmp`), so the final `os.replace` never crosses file systems and a copy left by
a killed writer is recognised and removed by the next save. Writing over a symlink writes the file it
points to; a folder, pipe or device is refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from studio.core.safe_io import FileRefused, pid_alive, reason, write_target


def write_atomic(path: str | os.PathLike, data: bytes | Callable[[Path], None], *,
                 what: str = "file") -> Path:
    """Write `data` (bytes, or a function that writes a given temporary path) to `path` atomically.

    Returns the file written (the target of a symlink). FileRefused, with the reason in words, when the
    target is not a regular file or the write fails (a full disk, a read-only folder)."""
    target = write_target(path, what)
    remove_stale_copies(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                        dir=target.parent)
    except OSError as exc:
        raise FileRefused(f"cannot write {what} '{path}': {reason(exc)}") from None
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
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise FileRefused(f"cannot write {what} '{path}': {reason(exc)}; the previous file is unchanged") \
            from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


def remove_stale_copies(target: Path) -> None:
    """Delete the hidden temporary copies of `target` whose writing process is gone."""
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[^.]+\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            match = pattern.fullmatch(entry.name)
            if match and not pid_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


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
