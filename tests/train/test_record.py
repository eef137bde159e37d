"""The run record and the strided batch-loss series."""

from __future__ import annotations

import json

import pytest

from studio.train import RunResult
from studio.train.record import StridedSeries


def test_series_stays_under_the_limit_and_keeps_an_even_stride():
    series = StridedSeries(limit=5000)
    values = [float(i) for i in range(123_457)]
    for start in range(0, len(values), 1000):
        series.extend(values[start:start + 1000])
    kept = series.values()
    assert 2500 <= len(kept) <= 5000
    assert kept[0] == 0.0
    steps = {b - a for a, b in zip(kept, kept[1:], strict=False)}
    assert len(steps) == 1
    restored = StridedSeries.from_state(json.loads(json.dumps(series.state())))
    restored.extend([1.0] * 10)
    series.extend([1.0] * 10)
    assert restored.values() == series.values()


def test_short_series_is_kept_whole():
    series = StridedSeries()
    series.extend([0.5, 0.25])
    assert series.values() == [0.5, 0.25]


def test_run_result_round_trips_through_json():
    result = RunResult(id="abc", started="2024-01-01T00:00:00+00:00", duration_s=1.5, status="stopped",
                       message="stopped", settings={"epochs": 2},
                       epochs=[{"epoch": 1, "loss": 0.5, "mae": 0.3, "val_loss": None, "val_mae": None,
                                "lr": 0.1, "time_s": 1.0, "samples_per_s": 10.0}],
                       batch_loss=[0.7, 0.5], best_epoch=1, weights="last.safetensors")
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result and again.metric == "mae"
    with pytest.raises(ValueError, match="unknown run status"):
        RunResult.from_dict({**result.to_dict(), "status": "exploded"})
