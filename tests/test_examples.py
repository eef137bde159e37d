"""The example projects train as shipped, and show what their descriptions claim."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.core.project import load_project
from studio.runs import prepare_training

PROJECTS = Path(__file__).resolve().parents[1] / "projects"


def _train(path: Path, tmp_path: Path, *, layer_type: str | None = None, **overrides) -> dict:
    """Train a copy of an example (optionally with its recurrent layer swapped) and return its run."""
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    project = load_project(copy)
    if layer_type:
        node = next(n for n in project.graph.nodes.values() if n.type in ("LSTM", "RNN", "GRU"))
        node.type = layer_type
        shared = set(node.spec.params.names())
        node.params = node.spec.config({k: v for k, v in node.params.items() if k in shared})
    result = prepare_training(project, overrides={"threads": 1, **overrides}).run()
    assert result.status == "completed", result.message
    return load_project(copy).runs[-1]


@pytest.mark.slow
def test_an_lstm_remembers_the_cue_where_a_plain_rnn_does_not(tmp_path):
    lstm = _train(PROJECTS / "sequence_lstm.studio", tmp_path)
    (tmp_path / "rnn").mkdir()
    rnn = _train(PROJECTS / "sequence_lstm.studio", tmp_path / "rnn", layer_type="RNN")
    # Chance is 0.25 (four cues).
    assert lstm["epochs"][-1]["val_accuracy"] > 0.9
    assert rnn["epochs"][-1]["val_accuracy"] < 0.6


@pytest.mark.slow
@pytest.mark.parametrize(("name", "epochs", "accuracy"), [
    ("moons_mlp.studio", 40, 0.95),
    ("transformer_tokens.studio", 5, 0.9),
])
def test_small_examples_learn(tmp_path, name, epochs, accuracy):
    run = _train(PROJECTS / name, tmp_path, epochs=epochs)
    assert run["epochs"][-1]["val_accuracy"] >= accuracy
    assert run["weights"] and (tmp_path / run["weights"]).exists()
