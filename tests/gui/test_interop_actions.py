"""File > Export and File > Import from the window."""

from __future__ import annotations

import shutil
from pathlib import Path

from studio.core.summary import summarize
from studio.gui.interop_actions import EXPORTS, InteropActions

ROOT = Path(__file__).resolve().parents[2]


def _actions(window, monkeypatch, export_to: Path | None = None) -> tuple[InteropActions, list[str]]:
    actions = InteropActions(window.doc, window.files, window)
    shown: list[str] = []
    monkeypatch.setattr(actions, "ask_export_path", lambda _format: str(export_to) if export_to else None)
    monkeypatch.setattr(actions, "show_done", shown.append)
    return actions, shown


def test_the_export_menu_offers_every_format(window, monkeypatch):
    actions, _ = _actions(window, monkeypatch)
    assert [a.text() for a in actions.export_menu.actions()] == [text for _f, text, _filter in EXPORTS]


def test_export_writes_pytorch_source_of_the_open_project(window, monkeypatch, tmp_path):
    shutil.copy(ROOT / "projects" / "moons_mlp.studio", tmp_path / "moons.studio")
    assert window.files.load(tmp_path / "moons.studio")
    actions, shown = _actions(window, monkeypatch, tmp_path / "moons_model.py")
    assert actions.export("pytorch") == tmp_path / "moons_model.py"
    source = (tmp_path / "moons_model.py").read_text()
    assert "class MoonsMlp(nn.Module)" in source
    assert shown and "moons_model.py" in shown[0]


def test_importing_the_slides_keras_model_gives_its_parameter_count(window, monkeypatch, answers):
    actions, _ = _actions(window, monkeypatch)
    assert actions.import_keras(str(ROOT / "tests" / "interop" / "keras" / "cats_vs_dogs_keras2.json"))
    assert summarize(window.doc.graph).total == 4_828_481
    assert window.doc.modified and window.doc.project.path is None


def test_a_model_with_unknown_layers_is_refused_and_the_open_project_stays(window, monkeypatch, answers,
                                                                           tmp_path):
    shutil.copy(ROOT / "projects" / "digits_cnn.studio", tmp_path / "digits.studio")
    window.files.load(tmp_path / "digits.studio")
    before = window.doc.project.to_dict()
    actions, _ = _actions(window, monkeypatch)
    assert not actions.import_keras(str(ROOT / "tests" / "interop" / "keras" / "unsupported_keras2.json"))
    assert answers.errors and "Lambda" in answers.errors[-1]
    assert window.doc.project.to_dict() == before


def test_the_file_menu_holds_export_and_import(window):
    file_menu = window.menuBar().actions()[0].menu()
    texts = [a.text() for a in file_menu.actions()]
    assert "&Export" in texts and "&Import Keras Model…" in texts
    assert texts.index("&Import Keras Model…") < texts.index("&Quit")
