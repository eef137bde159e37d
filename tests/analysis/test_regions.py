"""Decision regions of a classifier on 2-D points."""

from __future__ import annotations

import numpy as np
import pytest

from studio.analysis import AnalysisError
from studio.analysis.regions import decision_grid
from studio.train.predict import predict

from .helpers import built


def test_grid_covers_the_points_with_a_margin_and_matches_the_models_predictions():
    model, data = built("moons_mlp")
    grid = decision_grid(model, data, resolution=40, margin=0.1)
    assert grid.xs.shape == grid.ys.shape == (40,)
    assert grid.classes.shape == (40, 40) and grid.probabilities.shape == (40, 40, 2)
    points = np.concatenate([data.train_x.numpy(), data.val_x.numpy()])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = (high - low) * 0.1
    assert grid.xs[0] == pytest.approx(low[0] - pad[0], rel=1e-5)
    assert grid.ys[-1] == pytest.approx(high[1] + pad[1], rel=1e-5)
    np.testing.assert_allclose(grid.probabilities.sum(axis=2), 1.0, rtol=1e-6)
    # Row i is ys[i], column j is xs[j].
    p = predict(model, np.array([[grid.xs[5], grid.ys[30]]], dtype=np.float32),
                output_activation=model.output_activation)[0, 0]
    assert grid.probabilities[30, 5, 1] == pytest.approx(p, rel=1e-5)
    assert grid.classes[30, 5] == int(p >= 0.5)


def test_grid_needs_2d_points():
    model, data = built("digits_cnn")
    with pytest.raises(AnalysisError, match="need a classifier of 2-D points; dataset 'digits'"):
        decision_grid(model, data)
