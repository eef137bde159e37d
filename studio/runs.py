"""Training and reloading a project's model: the path from a project file to a recorded run.

The command line and the window both train through `prepare_training(...).run()`, so a run started
in either place loads the same data, builds the same model and is recorded the same way. Trained
weights are written beside the project as `NAME.RUN.safetensors`; each run keeps its resumable
checkpoint in its own folder `NAME.checkpoint/RUN/`, so two runs of one project never share one.
Recording a run locks the project file and adds the run to what is on disk, so runs recorded at the
same time by two processes (or the window and a terminal) are all kept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.atomic import write_atomic
from studio.core.errors import StudioError
from studio.core.inference import analyse
from studio.core.memory_estimate import check_fits, check_loadable, out_of_memory_as_error
from studio.core.project import Project, is_run_id, load_project, save_project
from studio.core.safe_io import FileRefused, is_plain_name, locked, reason
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
    from studio.data import DataError, check_input_shape, check_model_outputs, load_dataset

    shape = input_shape(project)
    base_dir = project.path.parent if project.path is not None else None
    try:
        data = load_dataset(project.dataset["name"], project.dataset.get("settings", {}),
                            input_shape=shape.dims, progress=progress, base_dir=base_dir)
    except DataError as exc:
        raise (exc.in_project(project.path) if project.path is not None else exc) from None
    mismatch = (check_input_shape(data.info, shape.dims, model_vocab_size=shape.vocab)
                or check_model_outputs(data.info, project.graph))
    if mismatch:
        raise RunError(mismatch)
    return data


def build_for_training(project: Project, seed: int) -> GraphModule:
    """The model with fresh weights drawn from `seed`, returning logits when it ends in sigmoid/softmax."""
    import torch

    from studio.core.build import build_model

    torch.manual_seed(seed)  # the initial weights are part of what the seed repeats
    return build_model(project.graph, logits=True)


def checkpoints_root(project: Project) -> Path:
    """The folder holding the checkpoint folders of the project's runs."""
    return _saved_path(project).with_name(f"{_saved_path(project).stem}.checkpoint")


def checkpoint_dir(project: Project, run_id: str) -> Path:
    """The checkpoint folder of one run."""
    if not is_run_id(run_id):
        raise RunError(f"run id {run_id!r} is not a plain id, so it cannot name a checkpoint folder")
    root = checkpoints_root(project)
    if root.exists() and not root.is_dir():
        raise RunError(f"{root} should be the folder of the project's checkpoints but is a file; "
                       "move it away")
    return root / run_id


def resumable_checkpoint(project: Project) -> Path:
    """The checkpoint folder `--resume` continues: the run whose training state was written last."""
    from studio.train.checkpoints import STATE_FILE

    root = checkpoints_root(project)
    if root.is_file():
        raise RunError(f"checkpoint {root} is damaged (a file where its folder should be); "
                       "train without --resume")
    candidates = [root] if (root / STATE_FILE).exists() else []  # the one-folder layout of older versions
    if root.is_dir():
        candidates += [entry for entry in root.iterdir() if is_run_id(entry.name) and entry.is_dir()
                       and (entry / STATE_FILE).exists()]
    if not candidates:
        raise RunError(f"there is no run to resume: no training state in {root}; train without --resume")
    return max(candidates, key=lambda folder: (folder / STATE_FILE).stat().st_mtime)


@dataclass
class TrainingJob:
    """A prepared run: `trainer` can be stopped or paused from another thread while `run()` works."""

    project: Project
    trainer: Trainer
    data: LoadedData
    resume: bool = False
    writes_files: bool = True  # False on the other ranks of a distributed run: rank 0 writes
    result: RunResult | None = None  # once trained, even when recording it failed

    def run(self) -> RunResult:
        """Train, then store the final weights beside the project and the run in the project file."""
        folder = self.trainer.checkpoint_dir
        with _training_in(folder) if folder is not None else contextlib.nullcontext():
            result = self.result = self.trainer.fit(resume=self.resume)
            if self.writes_files and folder is not None:
                record_run(self.project, result, folder)
        return result


def prepare_training(project: Project, *, overrides: Mapping[str, Any] | None = None,
                     callbacks: Sequence[Any] = (), resume: bool = False,
                     progress: Callable[[int, int], None] | None = None,
                     writes_files: bool = True) -> TrainingJob:
    """Load the data, build the model and set up the trainer for `project` (saved, so runs have a home).

    With `writes_files=False` (the other ranks of a distributed run) nothing is written to disk."""
    from studio.train import Trainer

    settings = TRAINING_PARAMS.validate({**project.training, **(overrides or {})})
    run_id = uuid.uuid4().hex[:12]
    checkpoints = None
    if writes_files:
        checkpoints = resumable_checkpoint(project) if resume else checkpoint_dir(project, run_id)
        _check_not_training(checkpoints)
    input_shape(project)  # a model with problems (one too big for the machine among them) names them
    check_fits(project.graph, settings)  # refused with the estimate before anything is allocated
    data = load_project_data(project, progress=progress)
    with out_of_memory_as_error(project.graph, settings):
        model = build_for_training(project, settings["seed"])
    trainer = Trainer(model, data, settings, callbacks=callbacks, checkpoint_dir=checkpoints, run_id=run_id)
    return TrainingJob(project, trainer, data, resume, writes_files)


def record_run(project: Project, result: RunResult, checkpoints: Path) -> None:
    """Copy the run's final weights beside the project and add (or update) the run in the project file.

    Under the project's lock the run joins the file as it is on disk now (another process may have
    recorded runs, or the window saved edits, since this one loaded it). The weights are written
    first and removed again when the project cannot be written, so no weights file is left that no
    run refers to; a failure is a RunError saying where the run's weights still are."""
    record = result.to_dict()
    path = _saved_path(project)
    written: Path | None = None
    try:
        with locked(path):
            if result.weights:
                target = project.weights_path(result.id)
                source = checkpoints / result.weights
                written = write_atomic(target, lambda tmp: shutil.copyfile(source, tmp), what="weights file")
                record["weights"] = target.name
            current = _on_disk(project)
            current.runs = [r for r in current.runs if r.get("id") != result.id] + [record]
            save_project(current, keep_runs_on_disk=False)
    except (StudioError, OSError) as exc:
        if written is not None:
            with contextlib.suppress(OSError):
                written.unlink()
        why = str(exc) if isinstance(exc, StudioError) else (exc.strerror or str(exc))
        raise RunError(f"run {result.id} could not be saved into {path.name}: {why}; its checkpoint stays in "
                       f"{checkpoints}") from None
    project.runs = current.runs


def record_lost_run(path: str | Path, run_id: str, *, status: str, message: str,
                    seen: Mapping[str, Any]) -> dict[str, Any]:
    """Record a run whose training process ended without recording it (killed, crashed, ended now).

    `seen` is what its events told: started, device, settings, epochs (one entry per finished epoch),
    batch_loss. The run keeps the weights of its last checkpoint (the last completed epoch), copied
    beside the project; a run the process did record is left as it is. Returns the run as stored."""
    from studio.train.record import LAST_WEIGHTS

    project = load_project(path)
    folder = checkpoint_dir(project, run_id)
    with locked(project.path):
        current = _on_disk(project)
        known = next((r for r in current.runs if r.get("id") == run_id), None)
        if known is not None:
            return known
        epochs = [dict(e) for e in seen.get("epochs", [])]
        record: dict[str, Any] = {
            "id": run_id, "started": str(seen.get("started", "")),
            "duration_s": float(seen.get("elapsed", 0)), "device": str(seen.get("device", "")),
            "status": status, "message": message,
            "settings": dict(seen.get("settings", {})), "epochs": epochs,
            "batch_loss": [float(v) for v in seen.get("batch_loss", [])],
            "best_epoch": _best_epoch(epochs), "weights": None}
        source = folder / LAST_WEIGHTS
        if epochs and source.is_file():
            target = project.weights_path(run_id)
            write_atomic(target, lambda tmp: shutil.copyfile(source, tmp), what="weights file")
            record["weights"] = target.name
        current.runs = [*current.runs, record]
        try:
            save_project(current, keep_runs_on_disk=False)
        except StudioError:
            if record["weights"]:
                with contextlib.suppress(OSError):
                    project.weights_path(run_id).unlink()
            raise
    return record


def _best_epoch(epochs: Sequence[Mapping[str, Any]]) -> int | None:
    """The epoch with the lowest validation loss (training loss without validation), as the trainer
    picks it."""
    def monitored(entry: Mapping[str, Any]) -> float:
        value = entry.get("val_loss") if entry.get("val_loss") is not None else entry.get("loss")
        return float(value) if isinstance(value, (int, float)) else float("inf")

    return int(min(epochs, key=monitored)["epoch"]) if epochs else None


def _on_disk(project: Project) -> Project:
    """The project file as it is on disk (ours when it is gone); RunError when it is unreadable, so a
    damaged file is never overwritten with an older copy."""
    path = _saved_path(project)
    if not path.exists():
        return project
    on_disk = load_project(path)  # a ProjectError names the file
    on_disk.path = project.path
    return on_disk


_OWNER_FILE = "training.pid"


@contextlib.contextmanager
def _training_in(folder: Path):
    """Mark `folder` as trained by this process while the run lasts (one process per checkpoint)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot make the checkpoint folder {folder}: {reason(exc)}") from None
    try:
        with locked(folder / _OWNER_FILE, timeout_s=0):
            (folder / _OWNER_FILE).write_text(str(os.getpid()))
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    (folder / _OWNER_FILE).unlink()
    except FileRefused:
        raise RunError(_busy_message(folder)) from None


def _check_not_training(folder: Path) -> None:
    """RunError naming the other process when `folder`'s run is being trained right now."""
    if (folder / _OWNER_FILE).exists() and folder.is_dir():
        try:
            with locked(folder / _OWNER_FILE, timeout_s=0):
                return
        except FileRefused:
            raise RunError(_busy_message(folder)) from None


def _busy_message(folder: Path) -> str:
    try:
        pid = int((folder / _OWNER_FILE).read_text().strip())
        who = f"process {pid}"
    except (OSError, ValueError):
        who = "another process"
    return f"run {folder.name} is being trained right now by {who}; wait for it to end, or train a new run"


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

    if not is_plain_name(str(run["weights"])):
        raise RunError(f"run '{run['id']}' names weights {run['weights']!r}, not a file beside the project")
    path = _saved_path(project).with_name(str(run["weights"]))
    if not path.exists():
        raise RunError(f"the weights of run '{run['id']}' are missing: expected {path}")
    check_loadable(project.graph)  # before anything is allocated
    with out_of_memory_as_error(project.graph, project.training):
        model = build_model(project.graph, logits=True)
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
