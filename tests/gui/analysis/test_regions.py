"""Decision regions are drawn for 2-D points and explained away for other data."""

from __future__ import annotations

from studio.gui.analysis.session import REGION_RESOLUTION


def test_moons_regions_cover_the_grid(moons_panel):
    panel = moons_panel
    index = panel.tabs.indexOf(panel.regions)
    assert panel.tabs.isTabEnabled(index)
    panel.tabs.setCurrentIndex(index)
    grid = panel.results.regions.grid
    image = panel.regions.image.image
    assert image.shape == (len(grid.ys), len(grid.xs), 3) == (REGION_RESOLUTION, REGION_RESOLUTION, 3)
    rect = panel.regions.image.mapRectToParent(panel.regions.image.boundingRect())
    assert rect.left() < grid.xs[0] and rect.right() > grid.xs[-1]
    data = panel.results.regions
    assert sum(len(item.data) for item in panel.regions.scatters) == len(data.points) == len(data.labels)
    assert len(panel.regions.mistakes.data) == int((data.labels != data.predicted).sum())


def test_other_data_explains_why_there_are_no_regions(digits_panel):
    panel = digits_panel
    index = panel.tabs.indexOf(panel.regions)
    assert not panel.tabs.isTabEnabled(index)
    assert "2-D points" in panel.tabs.tabToolTip(index)
    assert "(1, 8, 8)" in panel.tabs.tabToolTip(index)
