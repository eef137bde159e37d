"""The `model-studio` command: the studio's engine without a window, and the way to open the window.

    model-studio [FILE]                 open the studio (on FILE)
    model-studio summary FILE           print the model summary
    model-studio train FILE [...]       train headless, Keras-style progress
    model-studio evaluate FILE          accuracy, confusion matrix, per-class scores
    model-studio make-images FOLDER     write a generated image-folder dataset

Every failure the user can fix is one line on stderr naming the file and field, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from studio.core.errors import StudioError

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="model-studio", description="Design, train and look inside "
                                     "neural networks. Without a command, opens the studio window.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    summary = commands.add_parser("summary", help="print the model summary of a project")
    summary.add_argument("file", help="a .studio project file")
    summary.add_argument("--batch-size", type=int, default=None,
                         help="batch size for the activation-memory estimate (default: the project's)")
    summary.set_defaults(handler=_cmd_summary)

    train = commands.add_parser("train", help="train a project's model without a window")
    train.add_argument("file", help="a .studio project file")
    train.add_argument("--epochs", type=int, help="override the project's number of epochs")
    train.add_argument("--batch-size", type=int, help="override the project's batch size")
    train.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="override the device")
    train.add_argument("--resume", action="store_true", help="continue the last run from its checkpoint")
    train.set_defaults(handler=_lazy("studio.commands.train", "run"))

    evaluate = commands.add_parser("evaluate", help="evaluate the trained model on the validation data")
    evaluate.add_argument("file", help="a .studio project file")
    evaluate.add_argument("--run", help="the run id to evaluate (default: the latest with weights)")
    evaluate.set_defaults(handler=_lazy("studio.commands.evaluate", "run"))

    images = commands.add_parser("make-images", help="write a generated image-folder dataset (shapes that "
                                 "stand in for cats and dogs) to FOLDER")
    images.add_argument("folder")
    images.add_argument("--classes", default="cat,dog", help="comma-separated class names")
    images.add_argument("--per-class", type=int, default=100, help="training images per class")
    images.add_argument("--size", type=int, default=150, help="image width and height in pixels")
    images.add_argument("--seed", type=int, default=0)
    images.set_defaults(handler=_lazy("studio.commands.make_images", "run"))
    return parser


def _lazy(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A handler imported on use, so `summary` and the window never pay for torch or the trainer."""

    def handler(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), function)(args)

    return handler


def _cmd_summary(args: argparse.Namespace) -> int:
    from studio.core.project import load_project
    from studio.core.summary import format_summary, summarize

    project = load_project(args.file)
    summary = summarize(project.graph)
    batch = args.batch_size or project.training["batch_size"]
    print(format_summary(summary, title=project.name, batch_size=batch))
    return 1 if summary.problems else 0


def _open_window(path: str | None) -> int:
    from studio.gui.app import run

    return run(path)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    known = {"summary", "train", "evaluate", "make-images", "-h", "--help"}
    if not argv or (argv[0] not in known and len(argv) == 1 and not argv[0].startswith("-")):
        return _guarded(lambda: _open_window(argv[0] if argv else None))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return _guarded(lambda: args.handler(args))


def _guarded(action: Callable[[], int]) -> int:
    try:
        return action()
    except StudioError as exc:
        print(f"model-studio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("model-studio: interrupted", file=sys.stderr)
        return 130
