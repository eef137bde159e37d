"""Recovery files: one per window document and process, offered back only once their writer is gone."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.project import Project, load_project, save_project
from studio.gui import commands
from studio.gui.files import ProjectFiles, recovery_dir
from studio.gui.main_window import MainWindow
from studio.gui.recovery import process_started

from .helpers import cats_vs_dogs_core


def saved_project(folder: Path, name: str = "pets") -> Path:
    return save_project(Project(graph=cats_vs_dogs_core(), name=name), folder / f"{name}.studio")


def new_window(qtbot) -> MainWindow:
    win = MainWindow(probe_device=False)
    qtbot.addWidget(win)
    return win


def modify(win: MainWindow, y: float = 300.0) -> None:
    commands.add_layer(win.doc, "Dense", (0.0, y))
    assert win.doc.modified


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def as_crashed(win: MainWindow, pid: int, token: int = 1) -> Path:
    """Leave `win`'s recovery file as a process `pid` that died would have: renamed to that writer."""
    own = win.files.recovery.path
    target = own.with_name(f"{pid}-{token}.studio")
    own.rename(target)
    own.with_suffix(".json").rename(target.with_suffix(".json"))
    return target


def recovery_files() -> list[str]:
    folder = recovery_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_two_windows_keep_separate_recovery_files(qtbot, tmp_path):
    first, second = new_window(qtbot), new_window(qtbot)
    first.files.load(saved_project(tmp_path))
    modify(first)
    modify(second, 500.0)
    assert first.files.autosave() and second.files.autosave()
    own = [first.files.recovery.path, second.files.recovery.path]
    assert own[0] != own[1] and all(p.parent == recovery_dir() for p in own)
    assert all(p.name.startswith(f"{os.getpid()}-") for p in own)
    assert load_project(own[0]).to_dict() == first.doc.project.to_dict()
    assert load_project(own[1]).to_dict() == second.doc.project.to_dict()
    assert json.loads(own[0].with_suffix(".json").read_text())["source"] == str(tmp_path / "pets.studio")

    assert first.files.save()  # saving one window's work forgets only its recovery file
    assert not own[0].exists() and own[1].is_file()
    assert second.files.autosave()
    second.doc.undo_stack.undo()
    assert not second.files.autosave() and not own[1].exists()  # nothing unsaved: nothing to recover


def test_closing_removes_only_the_windows_own_file(qtbot):
    first, second = new_window(qtbot), new_window(qtbot)
    modify(first)
    modify(second, 500.0)
    first.files.autosave()
    second.files.autosave()
    assert first.close()  # the answer to "unsaved changes" is Discard
    kept = second.files.recovery.path
    assert recovery_files() == [kept.with_suffix(".json").name, kept.name]


def test_the_work_of_a_window_still_open_is_not_offered(qtbot, answers):
    open_window = new_window(qtbot)
    modify(open_window)
    assert open_window.files.autosave()
    later = new_window(qtbot)
    assert not later.files.offer_recovery()
    assert "restore" not in answers.asked
    assert open_window.files.recovery.path.is_file()


def test_the_work_of_a_process_that_is_gone_is_offered_and_restored(qtbot, answers, tmp_path):
    path = saved_project(tmp_path)
    crashed = new_window(qtbot)
    crashed.files.load(path)
    modify(crashed)
    assert crashed.files.autosave()
    edited = crashed.doc.project.to_dict()
    orphan = as_crashed(crashed, dead_pid())

    later = new_window(qtbot)
    assert later.files.offer_recovery()
    assert answers.asked == ["restore"]
    assert later.doc.project.to_dict() == edited
    assert later.doc.project.path == path and later.isWindowModified()
    assert not orphan.exists() and not orphan.with_suffix(".json").exists()
    assert load_project(later.files.recovery.path).to_dict() == edited  # its own file holds it now
    assert later.files.save()
    assert recovery_files() == []
    assert load_project(path).to_dict() == edited


def test_a_reused_process_id_does_not_hide_a_crash(qtbot, answers):
    started = process_started(os.getpid())
    if started is None:
        pytest.skip("process start times are not known on this system")
    crashed = new_window(qtbot)
    modify(crashed)
    crashed.files.autosave()
    orphan = as_crashed(crashed, os.getpid(), token=999)  # alive, but not the process that wrote it
    note = orphan.with_suffix(".json")
    note.write_text(json.dumps({**json.loads(note.read_text()), "started": started - 1}))
    later = new_window(qtbot)
    assert later.files.offer_recovery() and not orphan.exists()


def test_declining_removes_only_that_file(qtbot, answers):
    live = new_window(qtbot)
    modify(live)
    live.files.autosave()
    orphans = []
    for token in (1, 2):
        crashed = new_window(qtbot)
        modify(crashed)
        crashed.files.autosave()
        orphans.append(as_crashed(crashed, dead_pid(), token))
    answers.restore = False
    later = new_window(qtbot)
    assert not later.files.offer_recovery()
    assert answers.asked == ["restore", "restore"]  # one question for each
    assert not any(p.exists() for p in orphans)
    assert live.files.recovery.path.is_file()


def test_the_newest_is_offered_first_and_the_others_kept(qtbot, monkeypatch):
    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(ProjectFiles, "ask_restore",
                        lambda self, saved_at, name, others: asked.append((name, others)) or True)
    orphans, edited = [], []
    for token, stamp in ((1, 1_000_000_000), (2, 1_000_000_100)):
        crashed = new_window(qtbot)
        modify(crashed, 100.0 * token)
        crashed.files.autosave()
        edited.append(crashed.doc.project.to_dict())
        orphans.append(as_crashed(crashed, dead_pid(), token))
        os.utime(orphans[-1], (stamp, stamp))
    later = new_window(qtbot)
    assert later.files.offer_recovery()
    assert asked == [("an untitled project", 1)]
    assert not orphans[1].exists() and orphans[0].is_file()  # the older one waits for the next start
    assert later.doc.project.to_dict() == edited[1]


def test_a_broken_or_hostile_recovery_file_is_refused_safely(qtbot, answers):
    folder = recovery_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pid = dead_pid()
    broken = folder / f"{pid}-1.studio"
    broken.write_text('{"format": "model-studio-project", "format_version": 1, "graph": "rm -rf /"}')
    broken.with_suffix(".json").write_text(json.dumps({"source": "../../elsewhere.studio", "started": "x"}))
    later = new_window(qtbot)
    before = later.doc.project.to_dict()
    assert not later.files.offer_recovery()
    assert len(answers.errors) == 1 and str(broken) in answers.errors[0]
    assert later.doc.project.to_dict() == before and not broken.exists()

    hostile = folder / f"{pid}-2.studio"
    save_project(Project(name="kept"), hostile)
    hostile.with_suffix(".json").write_text(json.dumps({"source": "../../elsewhere.studio"}))
    (folder / f"{pid}-3.json").write_text("{}")  # a note whose file is gone
    save_project(Project(name="not a recovery"), folder / f"{'9' * 30}-1.studio")
    assert later.files.offer_recovery()
    assert later.doc.project.name == "kept" and later.doc.project.path is None  # not a path: untitled
    assert not (folder / f"{pid}-3.json").exists()


def read_only_target(tmp_path: Path) -> Path | None:
    """A save target that cannot be written: inside a read-only folder (where permissions count)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root ignores permissions
        folder.chmod(0o755)
        return None
    return folder / "pets.studio"


@pytest.mark.parametrize("kind", ["folder", "device", "read-only"])
def test_a_failed_save_keeps_the_document_modified(window, answers, tmp_path, kind):
    if kind == "folder":
        target: Path | None = tmp_path / "taken.studio"
        target.mkdir()
    elif kind == "device":
        target = Path("/dev/full")
        if not target.exists():
            pytest.skip("no /dev/full here")
    else:
        target = read_only_target(tmp_path)
        if target is None:
            pytest.skip("permissions are not enforced for this user")
    modify(window)
    answers.save_path = str(target)
    saved = window.save_as()
    if kind == "read-only":
        target.parent.chmod(0o755)  # so the test's folder can be removed
    assert not saved
    assert window.doc.modified and window.isWindowModified()
    assert window.doc.project.path is None and window.windowTitle().startswith("untitled.studio")
    assert len(answers.errors) == 1
    message = answers.errors[0]
    assert message.count(str(target)) == 1, message  # the path once, with the reason in words
    assert "Error" not in message and "errno" not in message.lower()
    assert window.files.recent_files() == []


def test_a_full_disk_keeps_the_document_modified_and_the_file_intact(window, answers, tmp_path, monkeypatch):
    path = saved_project(tmp_path)
    window.files.load(path)
    before = path.read_bytes()
    modify(window)

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:  # only this: the answers to questions stay patched
        patched.setattr(os, "replace", full)
        assert not window.save()
    assert path.read_bytes() == before
    assert window.doc.modified and window.isWindowModified()
    assert answers.errors == [f"cannot write project file '{path}': no space left on the disk; "
                              "the previous file is unchanged"]
