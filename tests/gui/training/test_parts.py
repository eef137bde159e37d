"""The training panel's parts on their own: buffers, gradient warnings, words, device choices."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from studio.gui.training.buffers import Ema, GrowingSeries, RunSeries
from studio.gui.training.controls import chosen_entry, device_entries
from studio.gui.training.gradients_view import (
    COLLAPSE_FACTOR,
    EXPLODING_NORM,
    GROWTH_FACTOR,
    THROUGH_TIME_FACTOR,
    VANISHING_NORM,
    assess,
    assess_through_time,
    warning_text,
)
from studio.gui.training.text import best_value, clock, end_line, progress_text, run_label
from studio.gui.training.worker import Launch, gui_threads


def test_series_grow_by_doubling_and_hand_out_views():
    series = GrowingSeries(4)
    for i in range(9):
        series.append(i, i * i)
    assert series.capacity == 16 and len(series) == 9
    assert series.x.tolist() == list(range(9)) and series.y[-1] == 64
    assert series.y.base is not None  # a view of the buffer, not a copy


def test_smoothing_starts_at_the_first_value_and_skips_non_finite_ones():
    ema = Ema(0.9)
    assert ema.update(2.0) == pytest.approx(2.0)  # debiased: not dragged towards 0
    assert 1.0 < ema.update(1.0) < 2.0
    assert np.isinf(ema.update(float("inf")))
    assert ema.update(1.0) < 1.6


def test_a_recorded_run_spreads_its_batch_losses_over_its_epochs():
    run = {"epochs": [{"epoch": 1, "loss": 1.0, "mae": 0.5, "val_loss": 1.2, "val_mae": 0.6, "lr": 0.1},
                      {"epoch": 2, "loss": 0.5, "mae": 0.3, "val_loss": 0.7, "val_mae": 0.4, "lr": 0.01}],
           "batch_loss": [1.0, 0.9, 0.8, 0.7]}
    series = RunSeries.from_record(run)
    assert series.metric == "mae" and series.epochs_done == 2
    assert series.batch_loss.x.tolist() == [0.5, 1.0, 1.5, 2.0]
    assert series.epochs["val_metric"].y.tolist() == [0.6, 0.4]
    assert series.epochs["lr"].x.tolist() == [1.0, 2.0]


def norms(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)


def test_gradient_warnings_name_the_layer_and_why():
    early = [0.5, 0.4, 0.6]
    healthy = {"conv": norms(*early, 0.3), "dense": norms(*early, 0.8)}
    assert assess(healthy) == []
    (tiny,) = assess({"conv": norms(*early, VANISHING_NORM / 10)})
    assert (tiny.kind, tiny.layer) == ("vanishing", "conv")
    (collapsed,) = assess({"lstm": norms(1.0, 1.0, 1.0, 1.0 / COLLAPSE_FACTOR / 2)})
    assert collapsed.kind == "vanishing" and "of its early" in collapsed.reason
    (big,) = assess({"dense": norms(*early, EXPLODING_NORM * 2)})
    assert big.kind == "exploding" and "above" in big.reason
    (growing,) = assess({"dense": norms(0.01, 0.01, 0.01, 0.01 * GROWTH_FACTOR * 2)})
    assert growing.kind == "exploding" and "its early" in growing.reason
    (broken,) = assess({"dense": norms(*early, float("nan"))})
    assert broken.kind == "exploding"
    text = warning_text(assess({"a": norms(*early, 1e-9), "b": norms(*early, 1e5)}))
    assert text.startswith("Exploding gradients in b") and "Vanishing gradients in a" in text


def test_words_of_the_progress_line_and_the_log():
    assert clock(0) == "00:00" and clock(75.4) == "01:15" and clock(3725) == "1:02:05"
    info = {"epoch": 3, "epochs": 10, "batch": 20, "batches": 45, "samples_per_s": 4210.4, "eta": 12}
    assert progress_text(info) == "Epoch 3/10 · batch 20/45 · 4,210 samples/s · ETA 00:12"
    assert end_line("stopped", "stopped at epoch 2", 61) == "Stopped after 01:01: stopped at epoch 2"
    assert end_line("completed", "") == "Completed."
    run = {"started": "2024-03-03T14:05:00+00:00", "best_epoch": 1,
           "epochs": [{"epoch": 1, "val_accuracy": 0.9}, {"epoch": 2, "val_accuracy": 0.8}]}
    assert run_label(3, run, today=date(2000, 1, 1)).startswith("#3 · Mar 0")
    assert best_value(run) == ("val_accuracy", 0.9)


def test_the_window_leaves_a_core_for_itself_unless_the_project_chose():
    assert gui_threads(0, 8) == 7 and gui_threads(0, 1) == 1 and gui_threads(3, 8) == 3
    assert Launch.of("cuda:1") == Launch("cuda", 1, "1") and Launch.of("cpu") == Launch("cpu")
    assert Launch.of("cpu*2") == Launch("cpu", 2) and Launch.of("cuda*4").processes == 4
    two = Launch.of("cpu*2")
    assert two.argv("p.studio", 7)[-2:] == ["--threads", "3"] and two.env() == {}  # the cores shared out
    assert Launch.of("cuda:1").env() == {"CUDA_VISIBLE_DEVICES": "1"}


def test_the_device_picker_lists_what_this_machine_has():
    choices = [("cuda:0", "NVIDIA H200"), ("cuda:1", "NVIDIA H200"), ("cpu", "CPU (16 cores)")]
    entries = device_entries(choices, "auto")
    assert [device for _, device in entries] == ["auto", "cuda:0", "cuda:1", "cuda*2", "cpu"]
    assert entries[0][0] == "Auto: NVIDIA H200 (cuda:0)" and entries[2][0] == "NVIDIA H200 (cuda:1)"
    assert chosen_entry(entries, "cpu") == 4 and chosen_entry(entries, "cuda") == 1
    missing = device_entries([("cpu", "CPU (2 cores)")], "mps")
    assert missing[-1] == ("MPS (not on this machine)", "mps") and chosen_entry(missing, "mps") == 2


def test_the_device_picker_offers_several_processes_where_the_machine_has_them():
    def devices(choices, cores, setting="auto"):
        return [device for _, device in device_entries(choices, setting, cores)]

    two_gpus = [("cuda:0", "NVIDIA H200"), ("cuda:1", "NVIDIA H200"), ("cpu", "CPU (16 cores)")]
    entries = device_entries(two_gpus, "auto", cores=16)
    assert devices(two_gpus, 16) == ["auto", "cuda:0", "cuda:1", "cuda*2", "cpu", "cpu*2", "cpu*4"]
    assert entries[3][0] == "All 2 GPUs (NCCL)"
    assert entries[5][0] == "2 processes (CPU, gloo)" and entries[6][0] == "4 processes (CPU, gloo)"
    assert chosen_entry(entries, "cpu") == 4 and chosen_entry(entries, "cuda*2") == 3

    one_gpu = [("cuda:0", "NVIDIA H200"), ("cpu", "CPU (7 cores)")]
    assert devices(one_gpu, 7) == ["auto", "cuda:0", "cpu", "cpu*2"]
    assert devices([("cpu", "CPU (8 cores)")], 8) == ["auto", "cpu", "cpu*2", "cpu*4"]
    assert devices([("cpu", "CPU (1 core)")], 1) == ["auto", "cpu"]
    assert devices([("none", "unavailable (ImportError)")], 8) == ["auto"]
    # A project asking for more GPUs than there are is told so at Run.
    assert device_entries(one_gpu, "cuda*4", cores=2)[-1] == ("CUDA*4 (not on this machine)", "cuda*4")


def test_the_axes_move_only_when_the_values_leave_them():
    from studio.gui.training.plots import accuracy_range, sticky_range

    first = accuracy_range((0.0, 0.0), 0.43, 0.61)
    assert first[0] < 0.4 < first[0] + 0.05 and 1.0 < first[1] < 1.05  # from 0.4, rounded down, to 1
    assert accuracy_range(first, 0.41, 0.97) == first  # a better model keeps the axis
    assert accuracy_range(first, 0.38, 0.97)[0] < 0.3 + 0.05  # a lower value moves it a step down
    assert accuracy_range(first, 0.0, 1.0)[0] < 0.0  # 0 and 1 stay inside the plot

    loss = sticky_range((0.0, 0.0), 0.2, 2.3)
    assert loss[0] == 0.0 and loss[1] > 2.3
    assert sticky_range(loss, 0.1, 1.5) == loss  # still fills a fair share of the axis
    assert sticky_range(loss, 0.05, 0.5)[1] < 1.0  # shrinks once the loss is far below the top
    assert sticky_range(loss, 0.1, 3.0)[1] > 3.0  # grows when the loss leaves it


def test_a_recurrent_layer_is_judged_by_its_first_step_against_its_last():
    fading = [1e-7, 1e-4, 1e-3, 1e-2]  # step 1 gets a hundred-thousandth of step 4
    growing = [50.0, 1.0, 0.1, 0.01]  # step 1 gets 5,000x step 4
    lstm = [1e-4, 1e-3, 1e-2]  # a hundredfold fall: within the rule
    assert 1e-7 / 1e-2 < 1 / THROUGH_TIME_FACTOR < 1e-4 / 1e-2
    warnings = assess_through_time({"rnn": fading, "gru": growing, "lstm": lstm, "one_step": [0.0]})
    assert [(w.kind, w.layer) for w in warnings] == [("vanishing_through_time", "rnn"),
                                                      ("exploding_through_time", "gru")]
    assert warnings[0].reason == "step 1 gets 1/100,000 of step 4's; warned beyond 1,000x either way"
    assert warnings[1].reason.startswith("step 1 gets 5,000x step 4's;")
    text = warning_text(warnings)
    assert text.startswith("Gradient vanishing through time in rnn (step 1 gets 1/100,000 of step 4's; "
                           "warned beyond 1,000x either way)")
    assert "gated layer (LSTM, GRU)" in text and "Gradient exploding through time in gru" in text
    assert assess_through_time({"silent": [0.0, 0.0]}) == []  # no gradient at all: nothing to compare
