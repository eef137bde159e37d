"""What the exporters share: their error, and the model and weights they export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.core.errors import StudioError
from studio.core.project import Project
from studio.core.shapes import TensorShape

if TYPE_CHECKING:
    from studio.core.build import GraphModule


class InteropError(StudioError):
    """A model that cannot be exported or imported as asked; the message names the layers at fault."""


@dataclass
class ExportModel:
    """The model to export: final activation included, eval mode, on the CPU."""

    module: GraphModule
    input_shape: TensorShape
    weights: str  # where the weights came from, for messages
    run_id: str | None
    weights_file: str | None = None  # the run's weights file (beside the project)


def model_for_export(project: Project, run_id: str | None = None) -> ExportModel:
    """The project's model with the weights of `run_id`, else of its latest trained run, else fresh
    weights drawn from the project's seed (the ones training would start from)."""
    import torch

    from studio.core.build import build_model
    from studio.core.memory_estimate import check_loadable, out_of_memory_as_error
    from studio.runs import input_shape
    from studio.train import load_weights

    shape = input_shape(project)
    run = _run_with_weights(project, run_id)
    check_loadable(project.graph)  # refused before anything is allocated
    if run is None:
        seed = project.training["seed"]
        with torch.random.fork_rng(devices=[]), out_of_memory_as_error(project.graph, project.training):
            torch.manual_seed(seed)  # forked: leaves the caller's random state as it was
            model = build_model(project.graph)
        fresh = f"fresh, drawn from seed {seed} (the project has no trained run)"
        return ExportModel(model.eval(), shape, fresh, None)
    path = project.weights_path(run["id"]).with_name(str(run["weights"]))
    if not path.exists():
        raise InteropError(f"the weights of run '{run['id']}' are missing: expected {path}")
    with out_of_memory_as_error(project.graph, project.training):
        model = build_model(project.graph)
        load_weights(model, path)
    return ExportModel(model.eval(), shape, f"of run '{run['id']}' ({path.name})", run["id"], path.name)


def _run_with_weights(project: Project, run_id: str | None) -> dict | None:
    from studio.runs import latest_trained_run

    if run_id is None and not any(r.get("weights") for r in project.runs):
        return None
    return latest_trained_run(project, run_id)
