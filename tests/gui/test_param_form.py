"""The generated settings form: rows that do not apply are hidden, file settings get Browse."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLineEdit, QToolButton

from studio.core.layers import get_spec
from studio.core.params import ParamSet
from studio.core.training_settings import TRAINING_PARAMS
from studio.data import get_dataset_spec
from studio.gui.param_form import ParamForm


def _visible(form: ParamForm, names: list[str]) -> dict[str, bool]:
    return {name: form._form.isRowVisible(form.editor(name)) for name in names}


def test_input_form_shows_only_the_fields_of_its_kind(qtbot):
    spec = get_spec("Input")
    form = ParamForm(spec.params)
    qtbot.addWidget(form)
    fields = ["channels", "height", "width", "features", "length", "vocab_size"]
    form.set_values(spec.config({"kind": "image"}))
    assert _visible(form, fields) == {"channels": True, "height": True, "width": True, "features": False,
                                      "length": False, "vocab_size": False}
    form.set_values(spec.config({"kind": "sequence"}))
    assert [f for f, shown in _visible(form, fields).items() if shown] == ["features", "length"]
    form.set_values(spec.config({"kind": "tokens"}))
    assert [f for f, shown in _visible(form, fields).items() if shown] == ["length", "vocab_size"]


def test_training_form_hides_settings_of_other_optimizers_and_schedules(qtbot):
    form = ParamForm(TRAINING_PARAMS)
    qtbot.addWidget(form)
    form.set_values(TRAINING_PARAMS.validate({"optimizer": "adam", "schedule": "none"}))
    assert _visible(form, ["momentum", "nesterov", "step_size", "gamma"]) == dict.fromkeys(
        ["momentum", "nesterov", "step_size", "gamma"], False)
    form.set_values(TRAINING_PARAMS.validate({"optimizer": "sgd", "schedule": "step"}))
    assert all(_visible(form, ["momentum", "nesterov", "step_size", "gamma"]).values())


def test_a_folder_setting_is_chosen_with_browse(qtbot, monkeypatch, tmp_path):
    spec = get_dataset_spec("image_folder")
    form = ParamForm(spec.settings)
    qtbot.addWidget(form)
    form.set_values(spec.settings.defaults())
    edited = []
    form.edited.connect(lambda name, value: edited.append((name, value)))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(tmp_path))
    form.editor("path").findChild(QToolButton).click()
    assert edited == [("path", str(tmp_path))]
    assert form.editor("path").findChild(QLineEdit).text() == str(tmp_path)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name,typed,allowed", [("batch_size", "0", "1 to"), ("learning_rate", "1e-9", "to"),
                                                ("validation_split", "1.5", "0 to 0.9")])
def test_a_value_typed_out_of_range_says_the_range_where_it_was_typed(qtbot, name, typed, allowed):
    from studio.data.settings import SPLIT_SETTINGS

    params = TRAINING_PARAMS if name != "validation_split" else ParamSet(SPLIT_SETTINGS)
    form = ParamForm(params)
    qtbot.addWidget(form)
    form.show()
    values = params.defaults()
    form.set_values(values)
    edits = []
    form.edited.connect(lambda key, value: edits.append((key, value)))
    box = form.editor(name)
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, typed)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert not edits  # nothing out of range is taken
    text = form.message.text()
    assert form.message.isVisibleTo(form) and typed in text and allowed in text and "it stays" in text
    box.selectAll()
    qtbot.keyClicks(box, box.textFromValue(box.minimum() if name == "batch_size" else box.maximum()))
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert edits and not form.message.isVisibleTo(form)  # the next taken edit clears the note
