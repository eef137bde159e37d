"""A training process started ahead of time: `python -m studio.commands.train_process`.

Importing torch and the trainer takes seconds, longer than a person waits after pressing Run. The
window therefore keeps one of these processes ready: it imports everything training needs, then waits
for its first line on standard input, a JSON object `{"argv": [...], "env": {...}}`, and runs
`model-studio` with those arguments (a `train ... --events - --control -` command, the same path as
the command line). Later lines on standard input are the run's control channel. The end of standard
input before the first line means it is not needed: it exits quietly.
"""

from __future__ import annotations

import json
import os
import sys

ALLOWED_ENV = ("CUDA_VISIBLE_DEVICES",)  # all a caller may set: which GPU "cuda" means


def _warm_up() -> None:
    """Import what a run needs, without touching a GPU (that stays for the run that wants one)."""
    import sklearn.datasets  # noqa: F401  (the built-in datasets and the scores)
    import torch

    import studio.commands.train  # noqa: F401
    import studio.core.build  # noqa: F401
    import studio.data  # noqa: F401
    import studio.train.trainer  # noqa: F401

    # The first optimizer imports torch's compiler stack, seconds of imports of its own.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def main() -> int:
    _warm_up()
    print("ready", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    try:
        order = json.loads(line)
        argv = [str(part) for part in order["argv"]]
        env = {str(k): str(v) for k, v in dict(order.get("env", {})).items() if k in ALLOWED_ENV}
    except (ValueError, KeyError, TypeError, AttributeError):
        print("model-studio: error: the training process was started with an unreadable order",
              file=sys.stderr)
        return 2
    if argv[:1] != ["train"]:
        print("model-studio: error: the training process only trains", file=sys.stderr)
        return 2
    os.environ.update(env)
    from studio.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
