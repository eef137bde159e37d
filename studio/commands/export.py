"""`model-studio export FILE --format FORMAT`: the project's model as a file other tools can use."""

from __future__ import annotations

import argparse

from studio.core.project import load_project
from studio.core.safe_io import printable
from studio.interop.export import export_project


def run(args: argparse.Namespace) -> int:
    project = load_project(args.file)
    result = export_project(project, args.format, args.output, args.run)
    print(f"Exported {printable(project.name)} to {result.path}: {result.description}")
    if result.weights:
        print(f"Weights: {result.weights}")
    return 0
