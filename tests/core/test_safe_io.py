"""Reading only regular files, writing through symlinks, plain names and the writers' lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from studio.core.atomic import remove_stale_copies, write_atomic
from studio.core.safe_io import FileRefused, is_plain_name, locked, pid_alive, read_regular, regular_file


@pytest.mark.timeout(20)
def test_a_named_pipe_is_refused_at_once_not_read(tmp_path):
    pipe = tmp_path / "data.csv"
    os.mkfifo(pipe)
    with pytest.raises(FileRefused, match="is a named pipe, not a regular file"):
        read_regular(pipe, "CSV file")
    with pytest.raises(FileRefused, match="named pipe"):
        regular_file(pipe)


@pytest.mark.timeout(20)
def test_a_device_and_a_folder_are_refused(tmp_path):
    with pytest.raises(FileRefused, match="is a device"):
        read_regular("/dev/zero")
    with pytest.raises(FileRefused, match="is a folder"):
        read_regular(tmp_path)
    with pytest.raises(FileRefused, match="does not exist"):
        read_regular(tmp_path / "missing")


def test_reading_stops_past_the_limit(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    assert read_regular(big, limit=4096) == b"x" * 2048
    with pytest.raises(FileRefused, match="too large"):
        read_regular(big, limit=1024)


@pytest.mark.parametrize("target", ["/dev/full", "/dev/null"])
def test_writing_over_a_device_is_refused(target):
    with pytest.raises(FileRefused, match="is a device"):
        write_atomic(target, b"data", what="project file")


@pytest.mark.timeout(20)
def test_writing_over_a_pipe_or_folder_is_refused(tmp_path):
    pipe = tmp_path / "p.studio"
    os.mkfifo(pipe)
    with pytest.raises(FileRefused, match="named pipe"):
        write_atomic(pipe, b"data")
    with pytest.raises(FileRefused, match="folder"):
        write_atomic(tmp_path, b"data")
    with pytest.raises(FileRefused, match="does not exist"):
        write_atomic(tmp_path / "no" / "such" / "file", b"data")


def test_writing_over_a_symlink_replaces_the_file_it_points_to(tmp_path):
    real = tmp_path / "real.studio"
    real.write_text("old")
    link = tmp_path / "link.studio"
    link.symlink_to(real)
    assert write_atomic(link, b"new") == real
    assert link.is_symlink() and real.read_text() == "new"


def test_copies_left_by_a_killed_writer_are_removed_by_the_next_save(tmp_path):
    target = tmp_path / "p.studio"
    gone = _dead_pid()
    stale = tmp_path / f".p.studio.{gone}.abc123.tmp"
    live = tmp_path / f".p.studio.{os.getpid()}.def456.tmp"  # a save in progress in a live process
    other = tmp_path / f".q.studio.{gone}.abc123.tmp"  # another file's copy
    for path in (stale, live, other):
        path.write_text("partial")
    write_atomic(target, b"{}")
    assert not stale.exists() and live.exists() and other.exists()
    remove_stale_copies(tmp_path / "q.studio")
    assert not other.exists()


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    assert not pid_alive(process.pid)
    return process.pid


@pytest.mark.parametrize("name", ["cat", "Dog 2", "chat_noir", "été", "a.b-c"])
def test_plain_names(name):
    assert is_plain_name(name)


@pytest.mark.parametrize("name", ["", ".", "..", "../../x", "a/b", "a\\b", ".hidden", "x\n", "x ", "/abs",
                                  "a..b", "x" * 200, "nul\x00"])
def test_names_that_are_not_plain(name):
    assert not is_plain_name(name)


@pytest.mark.timeout(30)
def test_the_lock_is_reentrant_and_threads_take_turns(tmp_path):
    path = tmp_path / "p.studio"
    order = []
    with locked(path), locked(path):  # a run's record saves the project under the same lock
        thread = threading.Thread(target=lambda: _hold(path, order))
        thread.start()
        time.sleep(0.2)
        order.append("first done")
    thread.join(10)
    assert order == ["first done", "second"]


def _hold(path, order):
    with locked(path):
        order.append("second")


@pytest.mark.timeout(30)
def test_another_process_waits_for_the_lock(tmp_path):
    path = tmp_path / "p.studio"
    code = ("import sys, time; from studio.core.safe_io import locked\n"
            "with locked(sys.argv[1]):\n    print('held', flush=True); time.sleep(1.0)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(FileRefused, match="being written by another process"):
        with locked(path, timeout_s=0.1):
            pass
    start = time.monotonic()
    with locked(path, timeout_s=20):
        waited = time.monotonic() - start
    holder.wait(10)
    assert waited > 0.3


def test_unexpected_failures_read_in_the_users_words():
    from studio.core.errors import failure_text

    assert failure_text(ValueError("bad shape\nmore")) == "bad shape"
    assert failure_text(MemoryError()).startswith("ran out of memory")
    allocator = RuntimeError("DefaultCPUAllocator: can't allocate memory: 16 GB")
    assert failure_text(allocator).startswith("ran out")
    assert failure_text(KeyError()) == "an unexpected error (the details are in the log)"


def test_saving_goes_ahead_when_no_lock_file_can_be_made(tmp_path, monkeypatch):
    import studio.core.safe_io as safe_io

    monkeypatch.setattr(safe_io, "_lock_file", lambda target: str(tmp_path / "no" / "such" / "folder.lock"))
    with locked(tmp_path / "p.studio"), locked(tmp_path / "p.studio"):
        write_atomic(tmp_path / "p.studio", b"{}")
    assert (tmp_path / "p.studio").read_bytes() == b"{}"
