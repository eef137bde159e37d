"""`model-studio make-images FOLDER`: a generated image-folder dataset (no download needed)."""

from __future__ import annotations

import argparse

# What the command accepts: anything outside these is a typo, not a dataset (the command line reads
# them, so this module imports the writer only when it runs).
SIZE_RANGE = (8, 2048)
PER_CLASS_RANGE = (1, 100_000)


def run(args: argparse.Namespace) -> int:
    from studio.data import write_image_folder

    classes = list(args.classes)
    write_image_folder(args.folder, classes=classes, per_class=args.per_class, size=args.size, seed=args.seed)
    print(f"Wrote {len(classes)} classes x {args.per_class} training images of {args.size}x{args.size} "
          f"(and validation images) to {args.folder}")
    return 0
