"""The palette, the inspector forms, the summary table and the status bar."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from studio.core.layers import all_specs
from studio.core.project import Project
from studio.core.training_settings import TRAINING_PARAMS
from studio.gui import device
from studio.gui.canvas.view import OPEN_MIN_ZOOM
from studio.gui.clipboard import layer_type
from studio.gui.param_form import FloatSpinBox, ParamForm

from .helpers import cats_vs_dogs_core


def test_palette_lists_the_whole_catalog_with_help(window):
    palette = window.palette_panel
    assert sorted(palette.visible_types()) == sorted(s.type for s in all_specs())
    conv = next(palette.categories["Convolution"].child(i) for i in range(2)
                if palette.categories["Convolution"].child(i).text(0) == "Conv2D")
    assert "convolution" in conv.toolTip(0)
    assert layer_type(palette.tree.mimeData([conv])) == "Conv2D"


def test_palette_search_filters_by_name_category_and_help(window):
    palette = window.palette_panel
    palette.search.setText("conv")
    assert set(palette.visible_types()) >= {"Conv2D", "Conv1D"}
    assert "Dense" not in palette.visible_types()
    palette.search.setText("pool 2d")
    assert set(palette.visible_types()) == {"MaxPool2D", "AvgPool2D", "GlobalAvgPool2D"}
    assert palette.categories["Core"].isHidden()
    palette.search.setText("")
    assert len(palette.visible_types()) == len(all_specs())


def test_form_widgets_follow_the_parameter_kinds(qtbot):
    from studio.core.layers import get_spec

    form = ParamForm(get_spec("Conv2D").params)
    qtbot.addWidget(form)
    assert isinstance(form.editor("filters"), QSpinBox)
    assert form.editor("filters").maximum() == 65536
    assert len(form.editor("kernel_size").findChildren(QSpinBox)) == 2
    assert isinstance(form.editor("padding"), QComboBox)
    assert isinstance(form.editor("use_bias"), QCheckBox)
    reshape = ParamForm(get_spec("Reshape").params)
    qtbot.addWidget(reshape)
    assert isinstance(reshape.editor("shape"), QLineEdit)
    training = ParamForm(TRAINING_PARAMS)
    qtbot.addWidget(training)
    rate = training.editor("learning_rate")
    assert isinstance(rate, FloatSpinBox)
    training.set_values({"learning_rate": 1e-8})
    assert rate.text() == "1e-08"
    rate.stepBy(1)
    assert rate.value() == pytest.approx(1.1e-8)
    edited = []
    training.edited.connect(lambda name, value: edited.append((name, value)))
    rate.lineEdit().selectAll()
    QTest.keyClicks(rate, "5e-4")
    QTest.keyClick(rate, Qt.Key.Key_Return)
    assert edited == [("learning_rate", pytest.approx(5e-4))]


def test_an_invalid_value_shows_a_message_not_an_exception(window):
    graph = cats_vs_dogs_core()
    reshape = graph.add_node("Reshape", pos=(0, 200)).id
    window.doc.replace(Project(graph=graph))
    window.scene.select_nodes([reshape])
    form = window.inspector.node_page.form("Reshape")
    edit = form.editor("shape")
    edit.setText("1, 0, x")
    edit.editingFinished.emit()
    assert form.message.isVisibleTo(form) and "shape" in form.message.text()
    assert window.doc.graph.nodes[reshape].params["shape"] == (1, 8, 8)
    edit.setText("2, 4, 8")
    edit.editingFinished.emit()
    assert window.doc.graph.nodes[reshape].params["shape"] == (2, 4, 8)
    assert not form.message.isVisibleTo(form)


def test_renaming_in_the_inspector(window):
    window.doc.replace(Project(graph=cats_vs_dogs_core()))
    window.scene.select_nodes(["n2"])
    page = window.inspector.node_page
    page.name.setText("2bad name")
    page.name.editingFinished.emit()
    assert page.name_error.isVisibleTo(page) and "must start with a letter" in page.name_error.text()
    assert window.doc.graph.nodes["n2"].name == "conv2d" and page.name.text() == "conv2d"
    page.name.setText("dense")  # taken by another layer
    page.name.editingFinished.emit()
    assert "already named" in page.name_error.text()
    page.name.setText("features")
    page.name.editingFinished.emit()
    assert window.doc.graph.nodes["n2"].name == "features"
    assert window.scene.node_items["n2"].look.name == "features"
    assert window.doc.undo_stack.undoText() == "Rename conv2d to features"


def test_project_settings_are_undoable_edits(window):
    window.doc.replace(Project(graph=cats_vs_dogs_core(), name="pets"))
    start = window.doc.project.to_dict()
    page = window.inspector.project_page
    assert window.inspector.pages.currentWidget() is page
    page.name.setText("cats")
    page.name.editingFinished.emit()
    page.description.setPlainText("Cats or dogs.")
    page.description.committed.emit(page.description.toPlainText())
    index = page.dataset.findData("moons")
    page.dataset.setCurrentIndex(index)
    page.dataset.activated.emit(index)
    form = page.dataset_form("moons")
    assert page.dataset_forms.currentWidget() is form
    form.editor("n_samples").setValue(800)
    page.training.editor("epochs").setValue(3)
    optimizer = page.training.editor("optimizer")
    optimizer.setCurrentIndex(optimizer.findText("sgd"))
    optimizer.activated.emit(optimizer.currentIndex())
    project = window.doc.project
    assert (project.name, project.description) == ("cats", "Cats or dogs.")
    assert project.dataset == {"name": "moons", "settings": {"n_samples": 800}}
    assert project.training["epochs"] == 3 and project.training["optimizer"] == "sgd"
    assert window.doc.undo_stack.count() == 6
    while window.doc.undo_stack.canUndo():
        window.doc.undo_stack.undo()
    assert window.doc.project.to_dict() == start
    assert page.name.text() == "pets" and page.training.editor("epochs").value() == 10


def test_summary_table_and_status_bar(window):
    window.doc.replace(Project(graph=cats_vs_dogs_core()))
    model = window.summary.model
    assert model.rowCount() == 10
    assert model.data(model.index(1, 2)) == "(N, 32, 148, 148)"
    assert model.data(model.index(8, 3)) == "4,735,104"
    assert "Total params: 4,828,481" in window.summary.totals.text()
    assert window.validity_label.text() == "✓ Valid model"
    window.summary.table.clicked.emit(model.index(3, 0))
    assert window.scene.selected_node_ids() == ["n4"]
    window.doc.replace(Project())
    assert "problem" in window.validity_label.text()


def test_device_is_found_in_the_background(window, qtbot, monkeypatch):
    found = '[["cuda:0", "Test GPU"], ["cpu", "CPU (2 cores)"]]'
    monkeypatch.setattr(device, "PROBE_COMMAND", [sys.executable, "-c", f"print({found!r})"])
    monkeypatch.setattr(device, "_found", None)
    assert window.device_label.text() == "Device: …"
    with qtbot.waitSignal(window.device_probe.found, timeout=5000):
        window.device_probe.start()
    assert window.device_label.text() == "Device: Test GPU (cuda:0)"
    training = {**window.doc.project.training, "device": "cpu"}
    from studio.gui import commands

    commands.set_field(window.doc, "training", training, "Train on the CPU")
    assert window.device_label.text() == "Device: CPU (2 cores)"
    assert device.describe([("cpu", "CPU")], "cuda") == "CUDA (not on this machine)"


def test_shortcuts(window):
    def keys(action):
        return {k.toString() for k in action.shortcuts()}

    assert keys(window.new_action) == {"Ctrl+N"}
    assert keys(window.save_as_action) == {"Ctrl+Shift+S"}
    assert keys(window.redo_action) == {"Ctrl+Shift+Z", "Ctrl+Y"}
    assert "Ctrl+Z" in keys(window.undo_action)
    assert keys(window.duplicate_action) == {"Ctrl+D"}
    assert keys(window.fit_action) == {"Ctrl+0"}
    assert "Del" in keys(window.delete_action)
    view_menu = [a.text() for a in window.view_menu.actions()]
    assert {"Layers", "Inspector", "Summary and Problems"} <= set(view_menu)
    assert window.inspector_dock.toggleViewAction().isCheckable()


def test_zoom_fit_and_pan(window, qtbot):
    window.doc.replace(Project(graph=cats_vs_dogs_core()))
    view = window.view
    view.fit()
    whole = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(whole.contains(item.sceneBoundingRect()) for item in window.scene.node_items.values())
    view.show_model()
    assert view.zoom >= OPEN_MIN_ZOOM
    view.resetTransform()
    view.zoom_in()
    assert view.zoom == pytest.approx(1.25)
    before = view.horizontalScrollBar().value()
    viewport = view.viewport()
    centre = viewport.rect().center()
    QTest.mousePress(viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, centre)
    QTest.mouseMove(viewport, centre - QPoint(100, 0))
    QTest.mouseRelease(viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier)
    assert view.horizontalScrollBar().value() == before + 100
