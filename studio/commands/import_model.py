"""`model-studio import SOURCE --output FILE.studio`: a project from a model made elsewhere.

SOURCE is a Keras `model.to_json()` file (only read as JSON), or `MODULE.py:CLASS`, a PyTorch module
that is imported (running the file's code), built with no arguments and traced with torch.fx.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from studio.core.project import Project, save_project
from studio.core.summary import format_summary, summarize
from studio.interop.common import InteropError
from studio.interop.imported import ImportResult


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix != ".studio":
        raise InteropError(f"{output}: the output must be a .studio project file")
    if output.exists() and not args.force:
        raise InteropError(f"{output} already exists; use --force to replace it")
    shape = _shape(args.input_shape) if args.input_shape else None
    module_file, _, class_name = args.source.rpartition(":")
    if module_file.endswith(".py") and class_name:
        if shape is None:
            raise InteropError("importing a PyTorch module needs --input-shape (PyTorch order, e.g. 1,28,28)")
        result = _from_python(Path(module_file), class_name, shape)
    else:
        from studio.interop.keras_import import import_keras

        result = import_keras(args.source, input_shape=shape)
    project = Project(graph=result.graph, name=output.stem,
                      description=f"Imported from {Path(module_file or args.source).name}.")
    save_project(project, output)
    summary = summarize(project.graph)
    print(format_summary(summary, title=project.name, batch_size=project.training["batch_size"]))
    for note in result.notes:
        print(f"Note: {note}")
    print(f"Wrote {output}; choose its dataset and training settings in the studio before training.")
    return 0


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InteropError(f"--input-shape {text!r}: expects sizes separated by commas, e.g. 28,28,1") \
            from None
    if not dims or min(dims) < 1:
        raise InteropError(f"--input-shape {text!r}: sizes must be at least 1")
    return dims


def _from_python(path: Path, class_name: str, shape: tuple[int, ...]) -> ImportResult:
    """Runs the file (as the help text warns), builds CLASS() and traces it."""
    from studio.interop.fx_import import graph_from_module

    if not path.is_file():
        raise InteropError(f"{path}: no such file")
    spec = importlib.util.spec_from_file_location(f"_imported_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise InteropError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error is theirs to see, in one line
        raise InteropError(f"{path}: running it failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(path.parent))
    cls = getattr(module, class_name, None)
    if cls is None:
        raise InteropError(f"{path} defines no {class_name!r}")
    try:
        instance = cls()
    except Exception as exc:
        raise InteropError(f"{class_name}() failed: {type(exc).__name__}: {exc}") from None
    return graph_from_module(instance, shape)
