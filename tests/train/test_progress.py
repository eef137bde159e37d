"""Keras-style progress lines for the command line."""

from __future__ import annotations

import io
import re

from conftest import StopAt, blobs, mlp, regression, settings

from studio.train import KerasProgress, Trainer


class Terminal(io.StringIO):
    def isatty(self):
        return True


LINE = re.compile(r"^12/12 \[={30}\] - \d+s \d+(us|ms)/step - loss: \d\.\d{4}(e-\d+)? - accuracy: \d\.\d{4}"
                  r" - val_loss: \d\.\d{4}(e-\d+)? - val_accuracy: \d\.\d{4}$")


def test_plain_stream_gets_one_line_per_epoch_like_keras():
    stream = io.StringIO()
    Trainer(mlp(), blobs(), settings(epochs=2), callbacks=[KerasProgress(stream)]).fit()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert LINE.match(lines[1]), lines[1]
    assert LINE.match(lines[3]), lines[3]
    assert "\r" not in stream.getvalue()


def test_terminal_gets_a_live_bar():
    stream = Terminal()
    Trainer(mlp(), blobs(), settings(epochs=1), callbacks=[KerasProgress(stream)]).fit()
    text = stream.getvalue()
    assert "\r" in text and "ETA:" in text and ">" in text
    assert text.endswith("\n")


def test_regression_shows_mae_and_an_unfinished_run_says_why():
    stream = io.StringIO()
    stop = StopAt(1)
    stop.trainer = Trainer(mlp(3, 2), regression(), settings(epochs=3),
                           callbacks=[KerasProgress(stream), stop])
    stop.trainer.fit()
    text = stream.getvalue()
    assert " - mae: " in text and " - val_mae: " in text
    assert text.endswith("Training stopped: stopped after epoch 1\n")
