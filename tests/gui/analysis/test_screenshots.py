"""Screenshots of every Results view, light and dark, in build/screenshots/results_*.png for review."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QEventLoop, QTimer

from studio.gui import theme

from .conftest import wait_idle

FOLDER = Path(__file__).resolve().parents[3] / "build" / "screenshots"


def settle(ms: int = 150) -> None:
    """Let posted layouts (the gallery lays its items out after a short delay) finish before grabbing."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget, name: str) -> Path:
    settle()
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"results_{name}.png"
    assert widget.grab().save(str(path))
    return path


@pytest.fixture(params=["light", "dark"])
def palette(request, qapp):
    theme.apply_theme(qapp, request.param)
    yield request.param
    theme.apply_theme(qapp, "light")


def test_screenshots(palette, open_panel, trained_digits, trained_moons, tmp_path, qtbot):
    suffix = "" if palette == "light" else "_dark"
    digits = open_panel(trained_digits)
    tabs = digits.tabs
    written = [save(digits, f"evaluation{suffix}")]
    tabs.setCurrentWidget(digits.gallery)
    digits.gallery.set_sort("ascending")  # the least sure first: mistakes among them
    sample = tmp_path / "digit.png"
    Image.fromarray(digits.results.info.sample_image(digits.results.samples[11])).save(sample)
    digits.predict_images([str(sample)])
    wait_idle(qtbot, digits)
    written.append(save(digits, f"predictions{suffix}"))
    tabs.setCurrentWidget(digits.clusters)
    digits.clusters.cluster_button.click()
    wait_idle(qtbot, digits)
    digits.clusters.show_sample(int(digits.clusters.analysis.projection.rows[40]))
    written.append(save(digits, f"kmeans{suffix}"))
    digits.clusters.compare_button.click()
    wait_idle(qtbot, digits)
    written.append(save(digits, f"compare_layers{suffix}"))
    moons = open_panel(trained_moons)
    moons.tabs.setCurrentWidget(moons.regions)
    written.append(save(moons, f"regions{suffix}"))
    moons.tabs.setCurrentWidget(moons.gallery)
    written.append(save(moons, f"predictions_points{suffix}"))
    written.append(save(open_panel(None), f"empty{suffix}"))
    for path in written:
        assert path.stat().st_size > 10_000


def test_window_screenshot(window, trained_digits, qtbot):
    window.resize(1440, 900)
    assert window.files.load(trained_digits)
    window.show_results()
    qtbot.waitUntil(lambda: window.results.results is not None, timeout=60_000)
    assert save(window, "window").stat().st_size > 10_000
