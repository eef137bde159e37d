"""`model-studio make-images FOLDER`: a generated image-folder dataset (no download needed)."""

from __future__ import annotations

import argparse

from studio.data import write_image_folder


def run(args: argparse.Namespace) -> int:
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    write_image_folder(args.folder, classes=classes, per_class=args.per_class, size=args.size, seed=args.seed)
    print(f"Wrote {len(classes)} classes x {args.per_class} training images of {args.size}x{args.size} "
          f"(and validation images) to {args.folder}")
    return 0
