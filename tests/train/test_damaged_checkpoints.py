"""Damaged checkpoints and weights files: one line saying what is wrong, before any training."""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import Recorder, blobs, mlp, settings

from studio.cli import main
from studio.train import Trainer, TrainingError, load_weights, save_weights
from studio.train.checkpoints import LAST_WEIGHTS, STATE_FILE
from studio.train.errors import DamagedCheckpoint

PROJECTS = Path(__file__).resolve().parents[2] / "projects"


@dataclass
class Stranger:
    """An object a state file must never hold: loading it would mean running code of its class."""

    value: int = 1


def _edit_state(folder: Path, change) -> None:
    state = torch.load(folder / STATE_FILE, weights_only=True)
    change(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    (folder / STATE_FILE).write_bytes(buffer.getvalue())


def _replace(path: Path, make) -> None:
    """Put something else where `path` is: `make(path)` after removing the file."""
    path.unlink()
    make(path)


def _drop_optimizer(state):
    del state["optimizer"]


def _drop_epochs_done(state):
    del state["progress"]["epochs_done"]


def _text_epochs_done(state):
    state["progress"]["epochs_done"] = "2"


def _extra_group(state):
    groups = state["optimizer"]["param_groups"]
    groups.append(dict(groups[0]))


def _short_group(state):
    state["optimizer"]["param_groups"][0]["params"].pop()


def _moment_of_another_shape(state):
    slot = state["optimizer"]["state"][0]
    slot["exp_avg"] = torch.zeros(3, 3)


def _a_stranger(state):
    state["progress"]["history"].append(Stranger())


def _short_rng(state):
    state["rng"]["cpu"] = state["rng"]["cpu"][:10]


def _past_the_epoch(state):
    state["progress"]["partial"] = {"batch": 99, "losses": [0.5] * 99, "metric_sum": 1.0, "time_s": 0.1,
                                    "seen_loss": 1.0, "seen_samples": 3}


STATE_EDITS = {
    "missing key": (_drop_optimizer, "has no 'optimizer'"),
    "missing progress key": (_drop_epochs_done, "progress has no 'epochs_done'"),
    "wrong type": (_text_epochs_done, "progress.epochs_done is text where a whole number belongs"),
    "extra parameter group": (_extra_group, "2 parameter groups; the model has 1"),
    "short parameter group": (_short_group, "group 1 holds 3 weights; the model's holds 4"),
    "moment of another shape": (_moment_of_another_shape, "'exp_avg' of weight 0 has shape (3, 3)"),
    "random state": (_short_rng, "random generator state has 10 values"),
    "unfinished epoch past its end": (_past_the_epoch, "stopped after batch 99, but an epoch has 12"),
}


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


FILE_DAMAGE = {
    "truncated state": (STATE_FILE, _truncate, "last.ckpt.pt is truncated or not a training state"),
    "state is a pipe": (STATE_FILE, lambda p: _replace(p, os.mkfifo), "last.ckpt.pt is a named pipe"),
    "state is a folder": (STATE_FILE, lambda p: _replace(p, Path.mkdir), "last.ckpt.pt is a folder"),
    "truncated weights": (LAST_WEIGHTS, _truncate, f"{LAST_WEIGHTS}' cannot be read"),
    "weights are a pipe": (LAST_WEIGHTS, lambda p: _replace(p, os.mkfifo), "safetensors' is a named pipe"),
    "weights are a folder": (LAST_WEIGHTS, lambda p: _replace(p, Path.mkdir), "safetensors' is a folder"),
}


@pytest.fixture
def saved_run(tmp_path) -> Path:
    """The checkpoint folder of a one-epoch run (12 batches of 16 samples an epoch)."""
    folder = tmp_path / "run"
    Trainer(mlp(), blobs(), settings(epochs=1), checkpoint_dir=folder).fit()
    return folder


def _resume_refused(folder: Path, expected: str) -> None:
    """Resuming from `folder` raises one line naming it and `expected`, and trains nothing."""
    model = mlp(seed=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    events = Recorder()
    trainer = Trainer(model, blobs(), settings(epochs=2), checkpoint_dir=folder, callbacks=[events])
    with pytest.raises(DamagedCheckpoint) as caught:
        trainer.fit(resume=True)
    message = str(caught.value)
    assert "\n" not in message and expected in message, message
    assert message.startswith(f"checkpoint {folder} is damaged (") and message.endswith(
        "); train without --resume")
    assert not events["on_train_begin"] and not events["on_epoch_begin"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "weights were changed"


@pytest.mark.parametrize("kind", list(STATE_EDITS))
def test_a_damaged_state_is_refused_before_training(saved_run, kind):
    change, expected = STATE_EDITS[kind]
    _edit_state(saved_run, change)
    _resume_refused(saved_run, expected)


def test_a_state_holding_objects_is_refused_unloaded(saved_run):
    _edit_state(saved_run, _a_stranger)
    _resume_refused(saved_run, "holds objects other than tensors and plain data")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", list(FILE_DAMAGE))
def test_damaged_checkpoint_files_are_refused_at_once(saved_run, kind):
    name, damage, expected = FILE_DAMAGE[kind]
    damage(saved_run / name)
    _resume_refused(saved_run, expected)


def test_a_file_where_the_checkpoint_folder_should_be(tmp_path):
    folder = tmp_path / "run"
    folder.write_text("not a folder")
    _resume_refused(folder, "a file where its folder should be")
    with pytest.raises(TrainingError, match="is a file; move it away"):
        Trainer(mlp(), blobs(), settings(epochs=1), checkpoint_dir=folder).fit()


def test_weights_of_another_model_are_named_as_such(saved_run):
    trainer = Trainer(mlp(hidden=8), blobs(), settings(epochs=2), checkpoint_dir=saved_run)
    with pytest.raises(TrainingError, match="does not fit this model .*different shapes.*without --resume"):
        trainer.fit(resume=True)


def test_an_intact_checkpoint_still_resumes(saved_run):
    result = Trainer(mlp(), blobs(), settings(epochs=2), checkpoint_dir=saved_run).fit(resume=True)
    assert result.status == "completed" and [e["epoch"] for e in result.epochs] == [1, 2]


# -- weights files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_floating_point_weights_of_another_precision_are_converted(tmp_path, dtype):
    source = mlp(seed=3)
    path = tmp_path / "w.safetensors"
    save_weights({k: v.to(dtype) for k, v in source.state_dict().items()}, path)
    model = mlp(seed=4)
    load_weights(model, path)
    for name, value in model.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, source.state_dict()[name].to(dtype).float())


@pytest.mark.parametrize("dtype, words", [(torch.int8, "int8 whole numbers"),
                                          (torch.bool, "true/false flags")])
def test_whole_number_weights_are_refused_naming_file_and_tensor(tmp_path, dtype, words):
    path = tmp_path / "w.safetensors"
    state = {k: v.to(dtype) for k, v in mlp().state_dict().items()}
    save_weights(state, path)
    with pytest.raises(TrainingError) as caught:
        load_weights(mlp(), path)
    message = str(caught.value)
    assert str(path) in message and "tensor '0.weight'" in message and words in message
    assert "float32 fractional values" in message


@pytest.mark.timeout(30)
def test_a_pipe_as_weights_file_is_refused_at_once(tmp_path):
    pipe = tmp_path / "w.safetensors"
    os.mkfifo(pipe)
    with pytest.raises(TrainingError, match="is a named pipe"):
        load_weights(mlp(), pipe)


# -- through the command line ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory) -> Path:
    """A project trained for one epoch, kept for the tests below to copy."""
    folder = tmp_path_factory.mktemp("trained")
    project = folder / "moons.studio"
    shutil.copy(PROJECTS / "moons_mlp.studio", project)
    assert main(["train", str(project), "--epochs", "1", "--device", "cpu"]) == 0
    return project


@pytest.fixture
def project_copy(trained_project, tmp_path) -> Path:
    for entry in trained_project.parent.iterdir():
        target = tmp_path / entry.name
        (shutil.copytree if entry.is_dir() else shutil.copy)(entry, target)
    return tmp_path / trained_project.name


def _run_folder(project: Path) -> Path:
    (folder,) = [p for p in project.with_name(f"{project.stem}.checkpoint").iterdir() if p.is_dir()]
    return folder


CLI_DAMAGE = {
    "missing key": lambda f: _edit_state(f, _drop_optimizer),
    "wrong type": lambda f: _edit_state(f, _text_epochs_done),
    "refused pickle": lambda f: _edit_state(f, _a_stranger),
    "truncated": lambda f: _truncate(f / STATE_FILE),
    "pipe": lambda f: _replace(f / STATE_FILE, os.mkfifo),
    "folder for the state": lambda f: _replace(f / STATE_FILE, Path.mkdir),
    "truncated weights": lambda f: _truncate(f / LAST_WEIGHTS),
}


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", list(CLI_DAMAGE))
def test_train_resume_on_a_damaged_checkpoint_is_one_line(project_copy, capsys, kind):
    folder = _run_folder(project_copy)
    capsys.readouterr()
    CLI_DAMAGE[kind](folder)
    runs_before = project_copy.read_text()
    assert main(["train", str(project_copy), "--epochs", "2", "--resume"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"model-studio: error: checkpoint {folder} is damaged (")
    assert line.endswith("; train without --resume") and "Traceback" not in captured.err
    assert "Epoch" not in captured.out
    assert project_copy.read_text() == runs_before


@pytest.mark.slow
def test_train_resume_with_a_file_for_the_checkpoint_folder(project_copy, capsys):
    root = project_copy.with_name(f"{project_copy.stem}.checkpoint")
    shutil.rmtree(root)
    root.write_text("in the way")
    capsys.readouterr()
    assert main(["train", str(project_copy), "--resume"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "is damaged (a file where its folder should be); train without --resume" in line
