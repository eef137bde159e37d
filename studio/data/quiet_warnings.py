"""Warnings raised while a file is decoded, kept for the thread decoding it instead of shown on stderr.

`warnings.catch_warnings` swaps process-wide state, so nested uses from several decoding threads would
restore each other's state out of order. Here one guard is installed while any thread records (counted
under a lock), every warning is let through to it, and each warning goes to the list of the thread that
raised it; warnings of threads that are not recording are shown as they were before.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_local = threading.local()
_users = 0
_guard: warnings.catch_warnings | None = None


@contextlib.contextmanager
def routed() -> Iterator[None]:
    """Keep the guard installed for a while (e.g. around a pool of decoding threads), so each file's
    `recorded()` does not install and remove it again."""
    _enter()
    try:
        yield
    finally:
        _leave()


@contextlib.contextmanager
def recorded() -> Iterator[list[warnings.WarningMessage]]:
    """The warnings this thread raises inside the block, none of them shown."""
    log: list[warnings.WarningMessage] = []
    with routed():
        outer = getattr(_local, "log", None)
        _local.log = log
        try:
            yield log
        finally:
            _local.log = outer


def _enter() -> None:
    global _users, _guard
    with _lock:
        if _users == 0:
            _guard = warnings.catch_warnings()
            _guard.__enter__()
            warnings.simplefilter("always")  # a repeated warning still marks its file
            shown_before = warnings.showwarning

            def route(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
                      line: str | None = None) -> None:
                log = getattr(_local, "log", None)
                if log is None:
                    shown_before(message, category, filename, lineno, file, line)
                else:
                    log.append(warnings.WarningMessage(message, category, filename, lineno, file, line))

            warnings.showwarning = route
        _users += 1


def _leave() -> None:
    global _users, _guard
    with _lock:
        _users -= 1
        if _users == 0 and _guard is not None:
            _guard.__exit__(None, None, None)
            _guard = None
