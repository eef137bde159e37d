"""Predictions for image files: decoded, resized and scaled like the image-folder dataset."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from studio.analysis import AnalysisError
from studio.analysis.images import image_batch, predict_images
from studio.core.errors import StudioError
from studio.core.project import load_project
from studio.train.predict import predict


def write_digit(path, pixels: np.ndarray) -> None:
    """A validation digit (1, 8, 8, values 0..1) as an 8-bit grey PNG."""
    Image.fromarray(np.round(pixels[0] * 255).astype(np.uint8), mode="L").save(path)


def test_a_png_gets_the_same_prediction_as_the_sample_it_shows(trained_digits, tmp_path):
    data, model = trained_digits.data, trained_digits.model
    path = tmp_path / "digit.png"
    write_digit(path, data.val_x[3].numpy())
    [(name, ranking)] = predict_images(trained_digits.project, None, [path])
    assert name == str(path)
    assert sorted(c for c, _ in ranking) == sorted(data.info.class_names)
    probabilities = [p for _, p in ranking]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1.0)
    expected = predict(model, data.val_x[3:4], output_activation=model.output_activation)[0]
    assert ranking[0][0] == data.info.class_names[int(expected.argmax())]
    assert ranking[0][1] == pytest.approx(float(expected.max()), abs=0.02)  # PNG rounding only


def test_colour_images_of_another_size_are_converted_like_the_dataset_does(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (30, 20), (255, 255, 255)).save(path)
    batch = image_batch([path, path], (1, 8, 8))
    assert batch.shape == (2, 1, 8, 8) and batch.dtype == np.uint8  # bytes, as the image datasets hold them
    assert (batch == 255).all()
    Image.new("RGB", (8, 8), (0, 51, 255)).save(path)
    assert image_batch([path], (3, 8, 8))[0, :, 0, 0].tolist() == [0, 51, 255]


def test_a_corrupt_file_is_an_error_naming_it(trained_digits, tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "broken.png"
    Image.new("L", (8, 8)).save(good)
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really an image")
    with pytest.raises(StudioError, match=r"file '.*broken\.png': cannot be decoded: not an image$"):
        predict_images(trained_digits.project, None, [good, bad])
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(StudioError, match=r"notes\.txt': not an image file \(\.txt\)"):
        predict_images(trained_digits.project, None, [notes])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
@pytest.mark.timeout(60)
def test_a_named_pipe_is_refused_without_waiting(trained_digits, tmp_path):
    pipe = tmp_path / "photo.png"
    os.mkfifo(pipe)
    with pytest.raises(StudioError, match=r"photo\.png': cannot be read: a named pipe"):
        predict_images(trained_digits.project, None, [pipe])


def test_a_model_without_image_input_is_an_error(untrained_moons, tmp_path):
    path = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(path)
    with pytest.raises(AnalysisError, match="the model's Input takes feature vectors, not images"):
        predict_images(load_project(untrained_moons), None, [path])
