"""Writers of one project take turns: every run reported saved is in the file, nothing is orphaned,
and a save killed at any moment leaves the old file or the new one, whole."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.cli import main
from studio.core import atomic
from studio.core.errors import StudioError
from studio.core.project import load_project, save_project
from studio.runs import checkpoints_root, prepare_training

PROJECTS = Path(__file__).resolve().parents[1] / "projects"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def moons(tmp_path) -> Path:
    path = tmp_path / "moons.studio"
    shutil.copy(PROJECTS / "moons_mlp.studio", path)
    return path


def _train_process(path: Path, epochs: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "studio", "train", str(path), "--epochs", str(epochs),
                             "--device", "cpu"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_two_trainings_of_one_project_at_once_both_keep_their_run(moons):
    first, second = _train_process(moons, 3), _train_process(moons, 3)
    outputs = [p.communicate(timeout=200) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    assert all("saved moons.studio" in out for out, _err in outputs)
    runs = load_project(moons).runs
    assert len(runs) == 2 and runs[0]["id"] != runs[1]["id"]
    for run in runs:
        assert (moons.parent / run["weights"]).is_file()
    assert sorted(p.name for p in checkpoints_root(load_project(moons)).iterdir()) == \
        sorted(r["id"] for r in runs)  # one checkpoint folder per run


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_run_joins_the_file_as_it_is_on_disk(moons, capsys):
    stale = load_project(moons)  # loaded before another process recorded a run and saved an edit
    assert main(["train", str(moons), "--epochs", "1"]) == 0
    edited = load_project(moons)
    edited.description = "edited while training"
    save_project(edited)
    prepare_training(stale, overrides={"epochs": 1}).run()
    on_disk = load_project(moons)
    assert len(on_disk.runs) == 2 and on_disk.description == "edited while training"
    assert [r["id"] for r in stale.runs] == [r["id"] for r in on_disk.runs]  # the caller sees them all


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_saving_an_older_copy_keeps_the_runs_recorded_since(moons):
    window = load_project(moons)
    assert main(["train", str(moons), "--epochs", "1"]) == 0
    window.description = "saved later by the window"
    save_project(window)
    on_disk = load_project(moons)
    assert len(on_disk.runs) == 1 and on_disk.description == "saved later by the window"


def _fill_disk_for_projects(monkeypatch) -> None:
    """The disk is full when a project file is written (weights still fit)."""
    real_replace = os.replace

    def replace(source, target):
        if str(target).endswith(".studio"):
            raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", replace)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_failed_project_write_leaves_no_orphan_weights(moons, monkeypatch, capsys):
    before = moons.read_bytes()
    _fill_disk_for_projects(monkeypatch)
    assert main(["train", str(moons), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no space left on the disk" in err and "checkpoint stays in" in err
    assert moons.read_bytes() == before
    assert not list(moons.parent.glob("*.safetensors"))  # no weights that no run refers to
    assert not list(moons.parent.glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_resume_continues_the_latest_run_in_its_own_folder(moons, capsys):
    main(["train", str(moons), "--epochs", "1"])
    main(["train", str(moons), "--epochs", "1"])
    first, second = (r["id"] for r in load_project(moons).runs)
    assert main(["train", str(moons), "--epochs", "2", "--resume"]) == 0
    runs = {r["id"]: r for r in load_project(moons).runs}
    assert len(runs[second]["epochs"]) == 2 and len(runs[first]["epochs"]) == 1


def test_resume_without_any_checkpoint_says_so(moons, capsys):
    assert main(["train", str(moons), "--resume"]) == 2
    assert "no run to resume" in capsys.readouterr().err


def _with_run(path: Path, **run) -> None:
    data = json.loads(path.read_text())
    data["runs"] = [{"id": "abc", "status": "completed", "epochs": [], **run}]
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("run, field", [({"weights": "../../etc/passwd"}, "runs[0].weights"),
                                        ({"weights": "/etc/passwd"}, "runs[0].weights"),
                                        ({"id": "../../etc/passwd"}, "runs[0].id")])
@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_a_run_that_names_a_path_is_refused(moons, capsys, run, field, command):
    _with_run(moons, **run)
    extra = ["--format", "safetensors"] if command == "export" else []
    assert main([command, str(moons), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"field '{field}'" in err and "Traceback" not in err


@pytest.mark.parametrize("output", ["moons.studio", "moons.abc.safetensors", "moons.checkpoint/abc/x.onnx"])
def test_export_never_overwrites_the_project_or_its_runs(moons, capsys, output):
    _with_run(moons, weights="moons.abc.safetensors")
    (moons.parent / "moons.abc.safetensors").write_bytes(b"weights")
    (moons.parent / "moons.checkpoint" / "abc").mkdir(parents=True)
    before = moons.read_bytes()
    assert main(["export", str(moons), "--format", "onnx", "--output", str(moons.parent / output)]) == 2
    assert "is part of the project" in capsys.readouterr().err
    assert moons.read_bytes() == before
    assert (moons.parent / "moons.abc.safetensors").read_bytes() == b"weights"


@pytest.mark.parametrize("output", ["/dev/full", "/dev/null"])
def test_export_over_a_device_is_refused(moons, capsys, output):
    assert main(["export", str(moons), "--format", "pytorch", "--output", output]) == 2
    assert "is a device" in capsys.readouterr().err


_SAVER = """
import sys
from studio.core.project import load_project, save_project
project = load_project(sys.argv[1])
variants = ("old " * int(sys.argv[2]), "new " * int(sys.argv[2]))
print("ready", flush=True)
i = 0
while True:
    project.description = variants[i % 2]
    save_project(project)
    i += 1
"""


@pytest.mark.timeout(240)
def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_file_whole(moons):
    # A long description makes each save take a while, so kills land inside writes too.
    repeat = 200_000
    old, new = "old " * repeat, "new " * repeat
    project = load_project(moons)
    project.description = old
    save_project(project)
    rng = random.Random(0)
    kills = 0
    for _ in range(50):
        saver = subprocess.Popen([sys.executable, "-c", _SAVER, str(moons), str(repeat)], cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True)
        assert saver.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        saver.send_signal(signal.SIGKILL)
        saver.wait(10)
        kills += 1
        assert load_project(moons).description in (old, new)
    assert kills == 50
    save_project(load_project(moons))  # the next save removes copies the killed savers left
    assert not list(moons.parent.glob(".moons.studio.*.tmp"))


def test_save_as_elsewhere_carries_the_runs_weights(moons, tmp_path):
    _with_run(moons, weights="moons.abc.safetensors")
    (moons.parent / "moons.abc.safetensors").write_bytes(b"weights")
    project = load_project(moons)
    (tmp_path / "copy").mkdir()
    save_project(project, tmp_path / "copy" / "mine.studio")
    assert project.runs[0]["weights"] == "mine.abc.safetensors"
    assert (tmp_path / "copy" / "mine.abc.safetensors").read_bytes() == b"weights"
    assert load_project(moons).runs[0]["weights"] == "moons.abc.safetensors"  # the original is untouched


def test_a_failed_save_as_leaves_no_copied_weights(moons, tmp_path, monkeypatch):
    _with_run(moons, weights="moons.abc.safetensors")
    (moons.parent / "moons.abc.safetensors").write_bytes(b"weights")
    project = load_project(moons)
    _fill_disk_for_projects(monkeypatch)
    (tmp_path / "copy").mkdir()
    with pytest.raises(StudioError, match="no space left"):
        save_project(project, tmp_path / "copy" / "mine.studio")
    assert list((tmp_path / "copy").iterdir()) == []
    assert project.path == moons and project.runs[0]["weights"] == "moons.abc.safetensors"
