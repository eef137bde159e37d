"""Bad command-line arguments: exit status 2 and one line on stderr, never a traceback.

Argument errors print no usage block: the one line names the option, what it takes and what it got,
and points to the command's --help, like `model-studio: error: argument --epochs: must be from 1 to
100000, got 0 (see 'model-studio train --help')`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = ROOT / "projects"


@pytest.fixture
def project(tmp_path) -> Path:
    path = tmp_path / "moons.studio"
    shutil.copy(PROJECTS / "moons_mlp.studio", path)
    return path


def _one_error_line(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("model-studio: error: ") and "Traceback" not in captured.err
    return lines[0]


ARGUMENT_ERRORS = [
    (["train", "{p}", "--epochs", "0"], "argument --epochs: must be from 1 to 100000, got 0", "train"),
    (["train", "{p}", "--epochs", "-1"], "argument --epochs: must be from 1 to 100000, got -1", "train"),
    (["train", "{p}", "--epochs", "2.5"], "argument --epochs: expects a whole number, got '2.5'", "train"),
    (["train", "{p}", "--batch-size", "0"], "argument --batch-size: must be from 1 to 65536, got 0", "train"),
    (["summary", "{p}", "--batch-size", "-5"], "argument --batch-size: must be from 1 to 65536, got -5",
     "summary"),
    (["cluster", "{p}", "--max-k", "0"],
     "argument --max-k: k-means needs at least 2 clusters (and at most 10000), got 0", "cluster"),
    (["cluster", "{p}", "--k", "0"],
     "argument --k: k-means needs at least 2 clusters (and at most 10000), got 0", "cluster"),
    (["cluster", "{p}", "--k", "10001"],
     "argument --k: k-means needs at least 2 clusters (and at most 10000), got 10001", "cluster"),
    (["cluster", "{p}", "--seed", "-3"], "argument --seed: must be from 0 to 4294967295, got -3", "cluster"),
    (["predict", "{p}", "a.png", "--top", "0"], "argument --top: show at least 1 class, got 0", "predict"),
    (["predict", "{p}", "a.png", "--top", "many"], "argument --top: expects a whole number, got 'many'",
     "predict"),
    (["make-images", "{d}", "--size", "0"], "argument --size: must be from 8 to 2048, got 0", "make-images"),
    (["make-images", "{d}", "--size", "100000"], "argument --size: must be from 8 to 2048, got 100000",
     "make-images"),
    (["make-images", "{d}", "--per-class", "0"], "argument --per-class: must be from 1 to 100000, got 0",
     "make-images"),
    (["make-images", "{d}", "--per-class", "10000000"],
     "argument --per-class: must be from 1 to 100000, got 10000000", "make-images"),
    (["make-images", "{d}", "--classes", ","],
     "argument --classes: expects names separated by commas, none empty; got ','", "make-images"),
    (["make-images", "{d}", "--classes", "cat,,dog"],
     "argument --classes: expects names separated by commas, none empty; got 'cat,,dog'", "make-images"),
    (["train"], "the following arguments are required: file", "train"),
]


@pytest.mark.parametrize("argv, says, command", ARGUMENT_ERRORS,
                         ids=[" ".join(a[0]) for a in ARGUMENT_ERRORS])
def test_a_bad_argument_is_one_line_and_exit_2(project, tmp_path, capsys, argv, says, command):
    argv = [a.format(p=project, d=tmp_path / "images") for a in argv]
    line = _one_error_line(capsys, argv)
    assert line == f"model-studio: error: {says} (see 'model-studio {command} --help')"
    assert not (tmp_path / "images").exists()


def test_an_unknown_command_is_one_line(capsys):
    line = _one_error_line(capsys, ["trian", "x.studio"])
    assert "invalid choice: 'trian'" in line and line.endswith("(see 'model-studio --help')")


def test_help_still_prints_the_options(capsys):
    with pytest.raises(SystemExit) as done:
        main(["make-images", "--help"])
    assert done.value.code == 0
    assert "8 to 2048" in capsys.readouterr().out


# -- make-images: where it writes and what class names it takes -------------------------------------


@pytest.mark.parametrize("classes, says", [
    ("../../x,b", "class name '../../x' is not a plain name"),
    ("a/b,c", "class name 'a/b' is not a plain name"),
    (".hidden,b", "class name '.hidden' is not a plain name"),
    ("cat,cat", "class names must differ (also in upper and lower case), got cat more than once"),
    ("Cat,cat", "got Cat, cat more than once"),
    ("cat", "needs 2 to 6 class names, got 1"),
])
def test_class_names_become_folders_only_when_plain(tmp_path, capsys, classes, says):
    target = tmp_path / "deep" / "images"
    target.parent.mkdir()
    line = _one_error_line(capsys, ["make-images", str(target), "--classes", classes, "--per-class", "1",
                                    "--size", "8"])
    assert says in line and str(target) in line
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep"], "something was written"


def test_make_images_needs_an_existing_parent_folder(tmp_path, capsys):
    target = tmp_path / "missing" / "images"
    line = _one_error_line(capsys, ["make-images", str(target), "--per-class", "1", "--size", "8"])
    assert f"the folder '{target.parent}' does not exist" in line
    assert not target.parent.exists()


def test_make_images_refuses_a_file_for_its_folder(tmp_path, capsys):
    target = tmp_path / "images"
    target.write_text("in the way")
    assert "is a file, not a folder" in _one_error_line(capsys, ["make-images", str(target), "--size", "8"])


def test_make_images_writes_inside_its_folder(tmp_path, capsys):
    target = tmp_path / "images"
    argv = ["make-images", str(target), "--classes", "one,two.b", "--per-class", "1", "--size", "8"]
    assert main(argv) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png"))
    assert written == ["images/train/one/one.0.png", "images/train/two.b/two.b.0.png",
                       "images/validation/one/one.0.png", "images/validation/two.b/two.b.0.png"]


# -- predict --top ----------------------------------------------------------------------------------


def test_a_top_larger_than_the_classes_shows_them_all(project, capsys, monkeypatch):
    from studio.commands import predict

    ranking = [("dog", 0.7), ("cat", 0.2), ("fox", 0.1)]
    monkeypatch.setattr(predict, "predict_images", lambda _proj, _run, paths: [(p, ranking) for p in paths])
    assert main(["predict", str(project), "a.png", "--top", "100000"]) == 0
    assert capsys.readouterr().out == "a.png: dog 0.70, cat 0.20, fox 0.10\n"
    assert main(["predict", str(project), "a.png", "--top", "1"]) == 0
    assert capsys.readouterr().out == "a.png: dog 0.70\n"


# -- the same from a shell --------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("argv", [["train", "x.studio", "--epochs", "0"],
                                  ["make-images", "out", "--size", "0"],
                                  ["cluster", "x.studio", "--max-k", "0"]])
def test_from_a_shell_it_is_one_line_too(tmp_path, argv):
    done = subprocess.run([sys.executable, "-m", "studio", *argv], capture_output=True, text=True,
                          cwd=tmp_path, timeout=100, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("model-studio: error: argument --") and done.stdout == ""


def test_the_types_name_their_range():
    from studio.cli import whole_number

    parse = whole_number(2, 5)
    assert parse(" 3 ") == 3
    for text, says in (("1", "must be from 2 to 5, got 1"), ("6", "must be from 2 to 5, got 6"),
                       ("x", "expects a whole number, got 'x'")):
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            parse(text)
    with pytest.raises(argparse.ArgumentTypeError, match="^pick a few, got 9$"):
        whole_number(2, 5, why="pick a few")("9")
