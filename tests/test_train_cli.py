"""`model-studio train` and `evaluate` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.cli import main
from studio.core.project import load_project

PROJECTS = Path(__file__).resolve().parents[1] / "projects"


@pytest.fixture
def moons(tmp_path) -> Path:
    path = tmp_path / "moons.studio"
    shutil.copy(PROJECTS / "moons_mlp.studio", path)
    return path


def test_train_prints_keras_style_epochs_and_records_the_run(moons, capsys):
    assert main(["train", str(moons), "--epochs", "3", "--batch-size", "64", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1/3" in out and "Epoch 3/3" in out
    keras_line = r"\d+(s|ms|us)/step - loss: [\d.]+ - accuracy: [\d.]+ - val_loss: [\d.]+ - val_accuracy:"
    assert re.search(keras_line, out)
    project = load_project(moons)
    (run,) = project.runs
    assert run["status"] == "completed" and len(run["epochs"]) == 3
    assert run["settings"]["batch_size"] == 64 and run["device"] == "cpu"
    assert (moons.parent / run["weights"]).exists()


def test_resume_continues_the_same_run(moons, capsys):
    main(["train", str(moons), "--epochs", "2"])
    main(["train", str(moons), "--epochs", "4", "--resume"])
    assert "Epoch 3/4" in capsys.readouterr().out
    (run,) = load_project(moons).runs
    assert [e["epoch"] for e in run["epochs"]] == [1, 2, 3, 4]


def test_evaluate_prints_accuracy_confusion_matrix_and_scores(moons, capsys):
    main(["train", str(moons), "--epochs", "2"])
    capsys.readouterr()
    assert main(["evaluate", str(moons)]) == 0
    out = capsys.readouterr().out
    assert "Validation accuracy:" in out and "Confusion matrix" in out and "precision" in out


def test_evaluate_without_a_trained_model_says_so(moons, capsys):
    assert main(["evaluate", str(moons)]) == 2
    assert "no trained model yet" in capsys.readouterr().err


def test_a_model_that_does_not_fit_the_data_is_refused_before_training(moons, capsys):
    data = json.loads(moons.read_text())
    data["graph"]["nodes"][0]["params"]["features"] = 3
    moons.write_text(json.dumps(data))
    assert main(["train", str(moons)]) == 2
    err = capsys.readouterr().err
    assert "vectors of 2 features" in err and "Input" in err
    assert load_project(moons).runs == []


def test_ctrl_c_stops_cleanly_and_saves_the_run(moons):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "studio", "train", str(moons), "--epochs", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Wait until training has really started, then press Ctrl-C once.
    deadline = time.monotonic() + 120
    line = ""
    while "Epoch 2/" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Stopping after this batch" in err
    (run,) = load_project(moons).runs
    assert run["status"] == "stopped"
    assert (moons.parent / run["weights"]).exists()
