"""The gradient that reaches each input step of a recurrent layer: it fades in a plain RNN, an LSTM's
gated cell carries it across the long-range memory task's 30 steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.project import project_from_dict
from studio.runs import prepare_training
from studio.train.callbacks import Callback

PROJECTS = Path(__file__).resolve().parents[2] / "projects"


class Reports(Callback):
    def __init__(self) -> None:
        self.seen: list[dict] = []

    def on_grad_norms(self, info) -> None:
        self.seen.append(info)


def first_report(layer_type: str) -> dict:
    data = json.loads((PROJECTS / "sequence_lstm.studio").read_text(encoding="utf-8"))
    for node in data["graph"]["nodes"]:
        if node["type"] == "LSTM":
            node["type"] = layer_type
    data["dataset"]["settings"]["n_samples"] = 320
    data["training"].update({"epochs": 1, "threads": 1, "grad_norm_every": 4})
    reports = Reports()
    prepare_training(project_from_dict(data), callbacks=[reports], writes_files=False).run()
    assert len(reports.seen) == 2  # 8 batches of 32, every 4th reported
    return reports.seen[0]


@pytest.mark.slow
def test_the_gradient_fades_through_a_plain_rnn_and_not_through_an_lstm():
    rnn, lstm = first_report("RNN")["through_time"], first_report("LSTM")["through_time"]
    assert list(rnn) == list(lstm) == ["lstm"]  # the layer's name in the example project
    (rnn_steps,), (lstm_steps,) = rnn.values(), lstm.values()
    assert len(rnn_steps) == len(lstm_steps) == 30
    rnn_reach, lstm_reach = rnn_steps[0] / max(rnn_steps), lstm_steps[0] / max(lstm_steps)
    assert rnn_reach < 1e-5 and lstm_reach > 1e-4 and lstm_reach > 100 * rnn_reach


def test_models_without_recurrent_layers_report_no_steps():
    data = json.loads((PROJECTS / "moons_mlp.studio").read_text(encoding="utf-8"))
    data["training"].update({"epochs": 1, "threads": 1, "grad_norm_every": 1})
    reports = Reports()
    prepare_training(project_from_dict(data), callbacks=[reports], writes_files=False).run()
    assert reports.seen and all("through_time" not in info for info in reports.seen)
