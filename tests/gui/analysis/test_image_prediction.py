"""Predicting image files from the gallery: the model's ranking of every class, or a message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from studio.analysis.images import predict_images
from studio.core.project import load_project

from .conftest import wait_idle


def digit_png(panel, row: int, folder: Path) -> Path:
    """A validation sample written as an 8 x 8 PNG, as a user might save one."""
    pixels = panel.results.info.sample_image(panel.results.samples[row])
    path = folder / f"digit_{row}.png"
    Image.fromarray(pixels).save(path)
    return path


def test_a_png_gets_the_models_ranking(digits_panel, trained_digits, tmp_path, qtbot):
    panel = digits_panel
    path = digit_png(panel, 5, tmp_path)
    panel.gallery.ask_image_paths = lambda: [str(path)]
    panel.gallery.predict_button.click()
    wait_idle(qtbot, panel)
    shown = panel.gallery.image_panel
    assert not shown.error.isVisibleTo(shown) and len(shown.results) == 1
    ((_, expected),) = predict_images(load_project(trained_digits), None, [path])
    ranking = shown.results[0].ranking
    assert [name for name, _ in ranking] == [name for name, _ in expected]
    assert np.allclose([p for _, p in ranking], [p for _, p in expected], atol=1e-6)
    assert sorted(name for name, _ in ranking) == panel.results.predictions.class_names
    assert abs(sum(p for _, p in ranking) - 1) < 1e-4
    name, probability = ranking[0]
    assert shown.answer.text() == f"{name}, prob. {probability:.2f}"
    assert shown.bars.ranking == ranking
    assert shown.results[0].pixels.shape == (8, 8, 3)  # what the model saw


def test_a_file_that_is_no_image_gets_a_message(digits_panel, tmp_path, qtbot):
    panel = digits_panel
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a PNG")
    panel.predict_images([str(broken)])
    wait_idle(qtbot, panel)
    shown = panel.gallery.image_panel
    assert shown.error.isVisibleTo(shown) and "cannot be decoded" in shown.error.text()
    assert "broken.png" in shown.error.text()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    panel.predict_images([str(text)])
    wait_idle(qtbot, panel)
    assert "not an image file" in shown.error.text()


def test_dropping_files_on_the_gallery_predicts_them(digits_panel, tmp_path, qtbot):
    panel = digits_panel
    panel.tabs.setCurrentWidget(panel.gallery)
    path = digit_png(panel, 0, tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(panel.gallery.predict_requested) as dropped:
        panel.gallery.dropEvent(event)
    assert event.isAccepted() and dropped.args == [[str(path)]]
    wait_idle(qtbot, panel)
    assert panel.gallery.image_panel.results[0].path == str(path)
