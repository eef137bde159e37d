"""Training and reloading a project's model: the path from a project file to a recorded run.

The command line and the window both train through `prepare_training(...).run()`, so a run started
in either place loads the same data, builds the same model and is recorded the same way. Trained
weights are written beside the project as `NAME.RUN.safetensors`; the resumable checkpoint of the
latest run lives in the folder `NAME.checkpoint/`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.atomic import write_atomic
from studio.core.errors import StudioError
from studio.core.inference import analyse
from studio.core.project import Project, save_project
from studio.core.shapes import TensorShape
from studio.core.training_settings import TRAINING_PARAMS

if TYPE_CHECKING:
    from studio.core.build import GraphModule
    from studio.data import LoadedData
    from studio.train import RunResult, Trainer


class RunError(StudioError):
    """The project cannot be trained or evaluated as it is; the message says what to change."""


def input_shape(project: Project) -> TensorShape:
    """The shape of the model's Input (the model must be valid)."""
    analysis = analyse(project.graph)
    if not analysis.ok:
        raise RunError("the model has problems: " + "; ".join(p.message for p in analysis.problems))
    return analysis.nodes[analysis.input_id].shape  # type: ignore[index, return-value]


def load_project_data(project: Project, *, progress: Callable[[int, int], None] | None = None) -> LoadedData:
    """The project's dataset, loaded for its model, or a StudioError saying how they disagree."""
    from studio.data import check_input_shape, load_dataset

    shape = input_shape(project)
    base_dir = project.path.parent if project.path is not None else None
    data = load_dataset(project.dataset["name"], project.dataset.get("settings", {}), input_shape=shape.dims,
                        progress=progress, base_dir=base_dir)
    mismatch = check_input_shape(data.info, shape.dims, model_vocab_size=shape.vocab)
    if mismatch:
        raise RunError(mismatch)
    return data


def build_for_training(project: Project, seed: int) -> GraphModule:
    """The model with fresh weights drawn from `seed`, returning logits when it ends in sigmoid/softmax."""
    import torch

    from studio.core.build import build_model

    torch.manual_seed(seed)  # the initial weights are part of what the seed repeats
    return build_model(project.graph, logits=True)


def checkpoint_dir(project: Project) -> Path:
    return _saved_path(project).with_name(f"{_saved_path(project).stem}.checkpoint")


@dataclass
class TrainingJob:
    """A prepared run: `trainer` can be stopped or paused from another thread while `run()` works."""

    project: Project
    trainer: Trainer
    data: LoadedData
    resume: bool = False
    writes_files: bool = True  # False on the other ranks of a distributed run: rank 0 writes

    def run(self) -> RunResult:
        """Train, then store the final weights beside the project and the run in the project file."""
        result = self.trainer.fit(resume=self.resume)
        if self.writes_files:
            record_run(self.project, result, checkpoint_dir(self.project))
        return result


def prepare_training(project: Project, *, overrides: Mapping[str, Any] | None = None,
                     callbacks: Sequence[Any] = (), resume: bool = False,
                     progress: Callable[[int, int], None] | None = None,
                     writes_files: bool = True) -> TrainingJob:
    """Load the data, build the model and set up the trainer for `project` (saved, so runs have a home).

    With `writes_files=False` (the other ranks of a distributed run) nothing is written to disk."""
    from studio.train import Trainer

    settings = TRAINING_PARAMS.validate({**project.training, **(overrides or {})})
    data = load_project_data(project, progress=progress)
    model = build_for_training(project, settings["seed"])
    checkpoints = checkpoint_dir(project) if writes_files else None
    trainer = Trainer(model, data, settings, callbacks=callbacks, checkpoint_dir=checkpoints)
    return TrainingJob(project, trainer, data, resume, writes_files)


def record_run(project: Project, result: RunResult, checkpoints: Path) -> None:
    """Copy the run's final weights beside the project and add (or update) the run in the project file."""
    record = result.to_dict()
    if result.weights:
        target = project.weights_path(result.id)
        source = checkpoints / result.weights
        write_atomic(target, lambda tmp: shutil.copyfile(source, tmp))
        record["weights"] = target.name
    project.runs = [r for r in project.runs if r.get("id") != result.id] + [record]
    save_project(project)


def latest_trained_run(project: Project, run_id: str | None = None) -> dict[str, Any]:
    """The run with weights to use: `run_id`, or the newest that has weights."""
    runs = [r for r in project.runs if r.get("weights")]
    if run_id is not None:
        runs = [r for r in runs if r.get("id") == run_id]
        if not runs:
            known = ", ".join(r["id"] for r in project.runs) or "none"
            raise RunError(f"no run '{run_id}' with trained weights (runs: {known})")
    if not runs:
        raise RunError("the project has no trained model yet: train it first (model-studio train FILE)")
    return runs[-1]


def load_trained_model(project: Project, run: Mapping[str, Any]) -> GraphModule:
    """The model with the weights of `run`, in eval mode, returning logits (see `.output_activation`)."""
    from studio.core.build import build_model
    from studio.train import load_weights

    model = build_model(project.graph, logits=True)
    path = _saved_path(project).with_name(str(run["weights"]))
    if not path.exists():
        raise RunError(f"the weights of run '{run['id']}' are missing: expected {path}")
    load_weights(model, path)
    return model.eval()


@dataclass
class TrainedSession:
    """A project opened for looking at a trained model: the run, its model and the project's data."""

    project: Project
    run: dict[str, Any]
    model: GraphModule
    data: LoadedData


def open_trained(path: str | Path, run_id: str | None = None) -> TrainedSession:
    """Load a project file, its run `run_id` (or the latest trained), that run's model and the data."""
    from studio.core.project import load_project

    project = load_project(path)
    run = latest_trained_run(project, run_id)
    model = load_trained_model(project, run)
    return TrainedSession(project, run, model, load_project_data(project))


def _saved_path(project: Project) -> Path:
    if project.path is None:
        raise RunError("save the project first: runs and weights are stored beside the project file")
    return project.path
