"""What the window shows when a run cannot start or fails, and that the studio keeps working after."""

from __future__ import annotations

import json

import pytest

from studio.core.project import load_project
from studio.gui import commands
from tests.core.builders import tiny_image_project

from .conftest import diverging_project, open_project, run_to_end


def test_a_diverging_run_shows_where_it_failed_and_the_studio_stays_usable(qtbot, trainer, tmp_path):
    path = diverging_project(tmp_path)
    open_project(trainer, path)
    outcome = run_to_end(qtbot, trainer)
    assert outcome.status == "failed"
    message = outcome.record["message"]
    assert "became inf" in message or "became nan" in message
    assert "epoch 1, batch" in message
    panel = trainer.training.panel
    assert panel.banner.isVisible() and panel.banner.text() == f"Training failed: {message}"
    assert "Training failed" in trainer.statusBar().currentMessage()
    assert panel.log.toPlainText().splitlines()[-1].startswith("Failed")
    assert load_project(path).runs[-1]["status"] == "failed"

    # Still usable: the settings can be changed and the model trains again.
    doc = trainer.doc
    assert commands.set_field(doc, "training", {**doc.project.training, "learning_rate": 0.01, "epochs": 1},
                              "Lower the learning rate")
    assert trainer.save()
    again = run_to_end(qtbot, trainer)
    assert again.status == "completed" and not panel.banner.isVisible()
    assert [r["status"] for r in load_project(path).runs] == ["failed", "completed"]


def test_a_model_with_problems_is_not_trained(qtbot, trainer, digits_file):
    open_project(trainer, digits_file())
    commands.add_layer(trainer.doc, "Dense", (0.0, 400.0))  # loose: nothing feeds it
    assert trainer.save()
    assert not trainer.training.run()
    assert not trainer.training.running
    assert trainer.bottom_tabs.currentWidget() is trainer.problems
    assert "Cannot train: the model has 1 problem" in trainer.statusBar().currentMessage()


def test_a_dataset_that_does_not_fit_the_model_is_reported(qtbot, trainer, digits_file):
    path = digits_file()
    data = json.loads(path.read_text(encoding="utf-8"))
    data["dataset"] = {"name": "moons", "settings": {}}  # 2 features for a model of 8x8 images
    path.write_text(json.dumps(data), encoding="utf-8")
    open_project(trainer, path)
    outcome = run_to_end(qtbot, trainer)
    assert outcome.record is None and outcome.error
    assert outcome.error in trainer.training.panel.banner.text()
    assert not trainer.doc.locked and load_project(path).runs == []


def test_an_unsaved_project_is_saved_before_it_trains(qtbot, trainer, training_answers, answers, tmp_path):
    trainer.files.show_template(None)  # untitled: nowhere to put runs yet
    trainer.doc.replace(load_project(diverging_project(tmp_path)))
    trainer.doc.project.path = None
    training_answers.save_first = False
    assert not trainer.training.run()
    assert training_answers.asked == ["save_first"] and not trainer.training.running

    training_answers.save_first = True
    answers.save_path = str(tmp_path / "saved_first.studio")
    outcome = run_to_end(qtbot, trainer)
    assert outcome.record is not None
    assert load_project(tmp_path / "saved_first.studio").runs[-1]["id"] == outcome.record["id"]


def test_a_device_this_machine_lacks_is_refused_with_the_reason(qtbot, trainer, digits_file):
    open_project(trainer, digits_file())
    trainer.set_devices([("cuda:0", "NVIDIA H200"), ("cpu", "CPU (2 cores)")])  # as if it had one
    picker = trainer.training.device_picker
    devices = [picker.itemData(i) for i in range(picker.count())]
    assert devices[:3] == ["auto", "cuda:0", "cpu"] and all(d.startswith("cpu*") for d in devices[3:])
    picker.setCurrentIndex(1)
    outcome = run_to_end(qtbot, trainer)
    if outcome.record is not None:  # there is a GPU after all
        return
    assert outcome.error and outcome.error in trainer.training.panel.banner.text()
    assert not trainer.doc.locked and trainer.training.controls.run_action.isEnabled()


def test_the_device_picker_follows_the_project_setting(trainer, digits_file):
    trainer.set_devices([("cuda:0", "NVIDIA H200"), ("cpu", "CPU (2 cores)")])
    open_project(trainer, digits_file(device="cpu"))
    assert trainer.training.controls.device == "cpu"
    open_project(trainer, digits_file("other", device="auto"))
    assert trainer.training.controls.device == "auto"


@pytest.mark.slow
def test_the_log_names_the_images_the_run_skipped(qtbot, trainer, tmp_path):
    path = tiny_image_project(tmp_path)
    (tmp_path / "pets" / "train" / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    open_project(trainer, path)
    assert run_to_end(qtbot, trainer).status == "completed"
    log = trainer.training.panel.log.toPlainText()
    assert "Note: skipped 1 unreadable image (train/dog/broken.png: " in log
