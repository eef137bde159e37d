"""`model-studio predict FILE IMAGE...`: the trained model's most probable classes for image files."""

from __future__ import annotations

import argparse

from studio.analysis.images import predict_images
from studio.core.project import load_project


def run(args: argparse.Namespace) -> int:
    """Shows the `args.top` (at least 1, as the command line checks) most probable classes, or all of
    them when the model has fewer."""
    project = load_project(args.file)
    for path, ranking in predict_images(project, args.run, args.images):
        print(f"{path}: " + ", ".join(f"{name} {p:.2f}" for name, p in ranking[:args.top]))
    return 0
