"""The screenshot script runs and draws each example in both palettes."""

from __future__ import annotations

from PySide6.QtGui import QImage

from studio.gui import screenshots


def test_screenshots_of_light_and_dark(tmp_path, qapp):
    written = screenshots.capture(tmp_path, "dark") + screenshots.capture(tmp_path, "light")
    assert {p.name for p in written} >= {"digits_dark.png", "cats_vs_dogs_light.png", "problems_light.png"}
    dark, light = QImage(str(tmp_path / "digits_dark.png")), QImage(str(tmp_path / "digits_light.png"))
    assert dark.width() >= 1200 and light.width() >= 1200
    # The canvas background follows the palette.
    assert dark.pixelColor(600, 200).lightness() < 90 < light.pixelColor(600, 200).lightness()
