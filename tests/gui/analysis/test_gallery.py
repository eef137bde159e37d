"""The predictions gallery: filters, confidence order, and thumbnails only for what is on screen."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from studio.gui.analysis.gallery_model import MISTAKE_ROLE, ROW_ROLE, SAMPLE_TEXT_ROLE, TRUE_ROLE
from studio.gui.analysis.gallery_view import PAGE_SIZE


def choose(box, data) -> None:
    """Pick the entry of a combo box holding `data`, as a click on it does."""
    index = box.findData(data)
    assert index >= 0
    box.setCurrentIndex(index)
    box.activated.emit(index)


def test_items_say_true_label_and_prediction_like_the_slides(digits_panel):
    gallery, p = digits_panel.gallery, digits_panel.results.predictions
    model = gallery.model
    first = model.index(0)
    row = model.data(first, ROW_ROLE)
    caption = f"{p.class_names[p.predicted[row]]}, prob. {p.confidence[row]:.2f}"
    assert model.data(first, Qt.ItemDataRole.DisplayRole) == caption
    assert model.data(first, TRUE_ROLE) == f"True: {p.class_names[p.true[row]]}"
    assert model.data(first, MISTAKE_ROLE) == (p.true[row] != p.predicted[row])


def test_the_gallery_opens_sorted_by_confidence_most_confident_first(digits_panel):
    gallery, p = digits_panel.gallery, digits_panel.results.predictions
    assert gallery.sort_box.currentData() == "descending"
    assert np.all(np.diff(p.confidence[gallery.rows]) <= 0)


def test_a_clicked_sample_is_shown_large_with_every_class_probability(digits_panel):
    gallery, p = digits_panel.gallery, digits_panel.results.predictions
    index = gallery.model.index(3)
    row = index.data(ROW_ROLE)
    gallery.view.clicked.emit(index)
    panel = gallery.image_panel
    assert panel.title.text() == f"Validation sample {row}"
    assert panel.result.isVisibleTo(panel) and not panel.image.pixmap().isNull()
    names = [name for name, _ in panel.bars.ranking]
    assert sorted(names) == sorted(p.class_names)  # every class, not the top three
    assert panel.bars.ranking[0] == (p.class_names[p.predicted[row]], float(p.confidence[row]))
    assert p.class_names[p.true[row]] in panel.caption.text()


def test_sorting_by_confidence(digits_panel):
    gallery, p = digits_panel.gallery, digits_panel.results.predictions
    choose(gallery.sort_box, "descending")
    assert np.all(np.diff(p.confidence[gallery.rows]) <= 0) and len(gallery.rows) == len(p)
    choose(gallery.sort_box, "ascending")
    assert np.all(np.diff(p.confidence[gallery.rows]) >= 0)
    assert gallery.page_rows.tolist() == gallery.rows[:PAGE_SIZE].tolist()  # the least sure come first


def test_mistakes_and_class_filters(digits_panel):
    gallery, p = digits_panel.gallery, digits_panel.results.predictions
    digits_panel.tabs.setCurrentWidget(gallery)
    choose(gallery.filter_box, "mistakes")
    mistakes = np.flatnonzero(p.true != p.predicted)
    assert len(mistakes) and sorted(gallery.rows.tolist()) == mistakes.tolist()
    model = gallery.model
    assert all(model.data(model.index(i), MISTAKE_ROLE) for i in range(model.rowCount()))
    choose(gallery.filter_box, "true")
    assert gallery.class_box.isVisible()
    gallery.class_box.setCurrentIndex(3)
    gallery.class_box.activated.emit(3)
    assert sorted(gallery.rows.tolist()) == np.flatnonzero(p.true == 3).tolist()
    choose(gallery.filter_box, "predicted")
    assert sorted(gallery.rows.tolist()) == np.flatnonzero(p.predicted == 3).tolist()  # class kept
    choose(gallery.filter_box, "all")
    assert len(gallery.rows) == len(p) and not gallery.class_box.isVisible()


def test_thumbnails_are_made_only_for_the_page_on_screen(digits_panel):
    panel = digits_panel
    gallery = panel.gallery
    panel.tabs.setCurrentWidget(gallery)
    assert gallery.pages == 4  # 359 validation samples, 100 a page
    gallery.grab()  # paints what is visible
    first = set(gallery.model.cached_rows)
    assert first and first <= set(gallery.page_rows.tolist())
    assert gallery.model.thumbnails_made == len(first) <= PAGE_SIZE
    gallery.next_button.click()
    assert gallery.page_number == 1 and gallery.page_label.text() == "Page 2 of 4"
    gallery.grab()
    second = set(gallery.model.cached_rows) - first
    assert second and second <= set(gallery.page_rows.tolist())
    assert gallery.model.thumbnails_made == len(first) + len(second)
    gallery.show_page(99)
    assert gallery.page_number == 3 and len(gallery.page_rows) == 59 and not gallery.next_button.isEnabled()


def test_points_are_listed_as_values(moons_panel):
    gallery = moons_panel.gallery
    moons_panel.tabs.setCurrentWidget(gallery)
    model = gallery.model
    index = model.index(0)
    assert model.data(index, Qt.ItemDataRole.DecorationRole) is None
    assert model.data(index, SAMPLE_TEXT_ROLE).startswith("x=")
    assert not gallery.predict_button.isVisible() and not gallery.image_panel.isVisible()
