"""Reading and naming files a stranger may have shaped: only regular files are read, only plain names
become path parts, and writers of one project take turns.

A named pipe or a device where a file is expected would block a reader forever (or feed it without end),
so files are opened without blocking and refused unless they are regular files.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from studio.core.errors import StudioError


class FileRefused(StudioError):
    """A path that is not a regular file, is missing, or cannot be read or written."""


def describe_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def regular_file(path: str | os.PathLike, what: str = "file") -> Path:
    """`path` when it is an existing regular file (a symlink to one counts); FileRefused otherwise.

    Only stats the path, so it never blocks on a pipe."""
    target = Path(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        raise FileRefused(f"{what} '{target}' does not exist") from None
    except OSError as exc:
        raise FileRefused(f"{what} '{target}' cannot be read: {reason(exc)}") from None
    if not stat.S_ISREG(mode):
        raise FileRefused(f"{what} '{target}' is {describe_kind(mode)}, not a regular file")
    return target


def open_regular(path: str | os.PathLike, what: str = "file") -> BinaryIO:
    """Open a regular file for reading in binary mode; a pipe, device or folder is refused at once.

    The file is opened without blocking and checked on its open descriptor, so nothing swapped in
    between a check and the open can block the reader."""
    target = Path(path)
    flags = os.O_RDONLY | _flag("O_NONBLOCK") | _flag("O_CLOEXEC") | _flag("O_BINARY")
    try:
        fd = os.open(target, flags)
    except FileNotFoundError:
        raise FileRefused(f"{what} '{target}' does not exist") from None
    except IsADirectoryError:
        raise FileRefused(f"{what} '{target}' is a folder, not a file") from None
    except OSError as exc:
        raise FileRefused(f"{what} '{target}' cannot be read: {reason(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileRefused(f"{what} '{target}' is {describe_kind(mode)}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return open(fd, "rb")  # the caller closes it
    except BaseException:
        os.close(fd)
        raise


def _flag(name: str) -> int:
    return getattr(os, name, 0)  # O_NONBLOCK and O_CLOEXEC are POSIX, O_BINARY Windows


def read_regular(path: str | os.PathLike, what: str = "file", *, limit: int | None = None) -> bytes:
    """The bytes of a regular file; with `limit`, FileRefused when it holds more than `limit` bytes."""
    with open_regular(path, what) as handle:
        try:
            data = handle.read() if limit is None else handle.read(limit + 1)
        except OSError as exc:
            raise FileRefused(f"{what} '{path}' cannot be read: {reason(exc)}") from None
    if limit is not None and len(data) > limit:
        raise FileRefused(f"{what} '{path}' is over {limit // 2**20} MiB, too large")
    return data


def write_target(path: str | os.PathLike, what: str = "file") -> Path:
    """Where a write to `path` lands: the file a symlink points to, or `path` itself.

    FileRefused when that is a folder, a pipe or a device, or when its folder does not exist."""
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise FileRefused(f"cannot write {what} '{path}': {reason(exc)}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise FileRefused(f"cannot write {what} '{path}': it is {describe_kind(mode)}, not a regular file")
    parent = target.parent
    if not parent.is_dir():
        raise FileRefused(f"cannot write {what} '{path}': the folder '{parent}' does not exist")
    return target


# A plain name: letters, digits, '_', '-', '.', and inner spaces; no separators, nothing hidden.
_PLAIN_NAME = re.compile(r"[^\W_]|[^\W][\w .\-]{0,98}[\w\-]", re.UNICODE)


def is_plain_name(text: str) -> bool:
    """Whether `text` can be used as one path part: no separators, no '..', not hidden, not empty."""
    return isinstance(text, str) and _PLAIN_NAME.fullmatch(text) is not None and ".." not in text


def plain_name(text: str, what: str) -> str:
    """`text` when it is a plain name (see `is_plain_name`); FileRefused naming `what` otherwise."""
    if not is_plain_name(text):
        raise FileRefused(f"{what} {text!r} is not a plain name: use letters, digits, '_', '-' and '.', "
                          "without '/', '\\' or '..'")
    return text


def inside(folder: Path, name: str, what: str) -> Path:
    """`folder / name` for a plain `name`, so nothing a file names can point outside `folder`."""
    return folder / plain_name(name, what)


def reason(exc: OSError) -> str:
    """An OSError in words: 'no space left on the disk', 'permission denied', ..."""
    words = {errno.ENOSPC: "no space left on the disk", errno.EACCES: "permission denied",
             errno.EPERM: "permission denied", errno.EROFS: "the disk is read-only",
             errno.EDQUOT: "the disk quota is used up", errno.ENOENT: "no such file or folder"}
    return words.get(exc.errno or -1, (exc.strerror or str(exc)).lower())


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid <= 0:
        return False
    if os.name == "nt":  # there os.kill(pid, 0) would send the process a Ctrl-C
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return False
    return True


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    kernel.GetExitCodeProcess(handle, ctypes.byref(code))
    kernel.CloseHandle(handle)
    return code.value == 259  # STILL_ACTIVE


LOCK_TIMEOUT_S = 30.0


_HELD: dict[str, tuple[threading.RLock, list[int]]] = {}  # real path -> (threads' lock, [fd, depth])
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def locked(path: str | os.PathLike, *, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the writers' lock of the file `path` for a short update.

    The lock is a file of its own in the machine's temporary folder, named after the real path: saving
    replaces the file itself (a new inode each time), and nothing is left beside the user's files. It is
    re-entrant within a process (a run's record saves the project under the same lock) and threads of
    one process take turns, since the operating system's lock is per process."""
    target = Path(os.path.realpath(path))  # two links to one file share its lock
    key = str(target)
    with _HELD_GUARD:
        threads, held = _HELD.setdefault(key, (threading.RLock(), [-1, 0]))
    if not threads.acquire(timeout=timeout_s):
        raise FileRefused(_busy(target, timeout_s))
    try:
        if held[1] == 0:
            held[0] = _open_lock(target)
            if held[0] >= 0:
                try:
                    _acquire(held[0], target, timeout_s)
                except BaseException:
                    os.close(held[0])
                    raise
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
            if held[1] == 0 and held[0] >= 0:
                _release(held[0])
                os.close(held[0])
    finally:
        threads.release()


def _lock_file(target: Path) -> str:
    folder = Path(tempfile.gettempdir()) / "model-studio-locks"
    folder.mkdir(mode=0o777, exist_ok=True)
    digest = hashlib.sha256(str(target).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return str(folder / f"{digest}.lock")


def _open_lock(target: Path) -> int:
    """The lock file's descriptor, or -1 when the temporary folder does not let this user make one
    (another user's lock folder, a read-only disk): then the update goes ahead with the threads of this
    process taking turns, since failing to save would lose more than an unlocked save risks."""
    try:
        return os.open(_lock_file(target), os.O_RDWR | os.O_CREAT | _flag("O_CLOEXEC"), 0o666)
    except OSError:
        return -1


def _busy(target: Path, timeout_s: float) -> str:
    return (f"'{target}' is being written by another process for over {timeout_s:.0f} s; "
            "try again when it is done")


try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _acquire(fd: int, target: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not _try_lock(fd):
        if time.monotonic() > deadline:
            raise FileRefused(_busy(target, timeout_s))
        time.sleep(0.02)


def printable(text: str) -> str:
    """`text` for a terminal line: control characters, line breaks and lone surrogates as escapes,
    so a name from a file cannot spread over lines, move the cursor or fail to print."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
