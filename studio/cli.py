"""The `model-studio` command: the studio's engine without a window, and the way to open the window.

    model-studio [FILE]                 open the studio (on FILE)
    model-studio summary FILE           print the model summary
    model-studio train FILE [...]       train headless, Keras-style progress (or JSON events)
    model-studio evaluate FILE          accuracy, confusion matrix, per-class scores
    model-studio cluster FILE [...]     k-means on learned features: ARI, NMI, purity, per-layer table
    model-studio predict FILE IMAGE...  the most probable classes for image files
    model-studio export FILE --format F  PyTorch source, TorchScript, ONNX or safetensors
    model-studio import SOURCE --output FILE   a project from Keras JSON or a PyTorch module
    model-studio make-images FOLDER     write a generated image-folder dataset
    model-studio cache [--clear]        the cache of decoded image folders: list it, or free it

Every failure the user can fix is one line on stderr naming the file and field, and exit status 2;
a bad argument too: the line names the option and what it takes, and points to the command's --help.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from studio.core.errors import StudioError

EXIT_USAGE = 2
MAX_SEED = 2**32 - 1  # what numpy and scikit-learn take
MAX_CLUSTERS = 10_000  # k-means beyond this many clusters is a typo, not an analysis


class _UsageError(Exception):
    """A command line argparse refused; carries the one line to print."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose refusals are one line, like every other error of the command."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(f"model-studio: error: {message} (see '{self.prog} --help')")


def whole_number(lo: int, hi: int | None = None, *, why: str = "") -> Callable[[str], int]:
    """An argparse `type`: a whole number from `lo` to `hi` (no upper end when `hi` is None).

    `why` says what the range means, in place of the bare numbers."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects a whole number, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            allowed = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
            raise argparse.ArgumentTypeError(f"{why or 'must be ' + allowed}, got {text.strip()[:20]}")
        return value

    parse.__name__ = "whole number"
    return parse


def _setting(name: str) -> Callable[[str], int]:
    """A whole-number type with the range of the training setting `name`, so both refuse alike."""
    from studio.core.training_settings import TRAINING_PARAMS

    param = TRAINING_PARAMS[name]
    return whole_number(int(param.minimum), int(param.maximum))


def name_list(text: str) -> list[str]:
    """An argparse `type`: comma-separated names, none of them empty."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expects names separated by commas, none empty; got {text!r}")
    return names


def _parser() -> tuple[argparse.ArgumentParser, list[str]]:
    """The argument parser and its command names."""
    from studio.commands.make_images import PER_CLASS_RANGE, SIZE_RANGE

    parser = _Parser(prog="model-studio", description="Design, train and look inside "
                     "neural networks. Without a command, opens the studio window.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    summary = commands.add_parser("summary", help="print the model summary of a project")
    summary.add_argument("file", help="a .studio project file")
    summary.add_argument("--batch-size", type=_setting("batch_size"), default=None,
                         help="batch size for the activation-memory estimate (default: the project's)")
    summary.set_defaults(handler=_cmd_summary)

    train = commands.add_parser("train", help="train a project's model without a window")
    train.add_argument("file", help="a .studio project file")
    train.add_argument("--epochs", type=_setting("epochs"), help="override the project's number of epochs")
    train.add_argument("--batch-size", type=_setting("batch_size"), help="override the project's batch size")
    train.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="override the device")
    train.add_argument("--threads", type=_setting("threads"), help="override the project's CPU threads")
    train.add_argument("--resume", action="store_true", help="continue the last run from its checkpoint")
    train.add_argument("--events", metavar="DEST", help="write one JSON event per line to DEST ('-': "
                       "standard output, the human progress then goes to standard error)")
    train.add_argument("--control", metavar="SRC", choices=("-",), help="'-': read pause, resume and stop "
                       "lines on standard input; its end stops the run")
    train.set_defaults(handler=_lazy("studio.commands.train", "run"))

    evaluate = commands.add_parser("evaluate", help="evaluate the trained model on the validation data")
    evaluate.add_argument("file", help="a .studio project file")
    evaluate.add_argument("--run", help="the run id to evaluate (default: the latest with weights)")
    evaluate.set_defaults(handler=_lazy("studio.commands.evaluate", "run"))

    from studio.interop.export import FORMATS

    export = commands.add_parser("export", help="write the model as PyTorch source, TorchScript, ONNX or "
                                 "safetensors weights")
    export.add_argument("file", help="a .studio project file")
    export.add_argument("--format", required=True, choices=tuple(FORMATS))
    export.add_argument("--output", help="the file to write (default: beside the project, NAME.py, "
                        "NAME.torchscript.pt, NAME.onnx or NAME.safetensors)")
    export.add_argument("--run", help="the run whose weights to export (default: the latest with weights; "
                        "fresh weights when there is none)")
    export.set_defaults(handler=_lazy("studio.commands.export", "run"))

    imports = commands.add_parser("import", help="make a project from a Keras model.to_json() file or a "
                                  "PyTorch module")
    imports.add_argument("source", help="a Keras model.to_json() file (only read, never run), or "
                         "MODULE.py:CLASS, a PyTorch module: this RUNS THE FILE'S CODE, so use only files "
                         "you trust")
    imports.add_argument("--output", required=True, help="the .studio project file to write")
    imports.add_argument("--input-shape", help="one sample's shape without the batch axis, in the source's "
                         "order: Keras 150,150,3 (fills in sizes the file leaves open); PyTorch 3,150,150 "
                         "(required for MODULE.py:CLASS)")
    imports.add_argument("--force", action="store_true", help="replace the output file if it exists")
    imports.set_defaults(handler=_lazy("studio.commands.import_model", "run"))

    cluster = commands.add_parser("cluster", help="k-means on a layer's learned features, scored against "
                                  "the true classes")
    cluster.add_argument("file", help="a .studio project file")
    cluster.add_argument("--layer", help="the layer whose outputs are clustered (default: the one feeding "
                         "the output layer; the Input's name means raw input)")
    clusters = whole_number(2, MAX_CLUSTERS, why="k-means needs at least 2 clusters (and at most "
                            f"{MAX_CLUSTERS})")
    cluster.add_argument("--k", type=clusters,
                         help="number of clusters (default: the number of classes)")
    cluster.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                         help="scale each feature to mean 0, std 1 before clustering (default: on)")
    cluster.add_argument("--projection", choices=("pca", "tsne"), default="pca",
                         help="2-D projection for the x, y columns of --csv (default: pca)")
    cluster.add_argument("--compare", action="store_true", help="also score every layer, raw input first")
    cluster.add_argument("--csv", metavar="PATH", help="write index, true label, cluster, x, y per sample")
    cluster.add_argument("--split", choices=("val", "train"), default="val",
                         help="cluster the validation (default) or the training samples")
    cluster.add_argument("--max-k", type=clusters,
                         help="largest k of the inertia-by-k table (default: "
                         "max(10, 2 x classes))")
    cluster.add_argument("--seed", type=whole_number(0, MAX_SEED), default=0,
                         help="seed of k-means and of the subsamples")
    cluster.add_argument("--run", help="the run id to use (default: the latest with weights)")
    cluster.set_defaults(handler=_lazy("studio.commands.cluster", "run"))

    predict = commands.add_parser("predict", help="the trained model's most probable classes for image files")
    predict.add_argument("file", help="a .studio project file")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    predict.add_argument("--top", type=whole_number(1, why="show at least 1 class"), default=3,
                         help="how many classes to show per image; all of them when there are fewer "
                         "(default: 3)")
    predict.add_argument("--run", help="the run id to use (default: the latest with weights)")
    predict.set_defaults(handler=_lazy("studio.commands.predict", "run"))

    images = commands.add_parser("make-images", help="write a generated image-folder dataset (shapes that "
                                 "stand in for cats and dogs) to FOLDER")
    images.add_argument("folder", help="the folder to write (its parent folder must exist)")
    images.add_argument("--classes", type=name_list, default=["cat", "dog"],
                        help="comma-separated class names: letters, digits, '_', '-' and '.'")
    images.add_argument("--per-class", type=whole_number(*PER_CLASS_RANGE), default=100,
                        help=f"training images per class, {PER_CLASS_RANGE[0]} to {PER_CLASS_RANGE[1]}")
    images.add_argument("--size", type=whole_number(*SIZE_RANGE), default=150,
                        help=f"image width and height in pixels, {SIZE_RANGE[0]} to {SIZE_RANGE[1]}")
    images.add_argument("--seed", type=whole_number(0, MAX_SEED), default=0)
    images.set_defaults(handler=_lazy("studio.commands.make_images", "run"))

    cache = commands.add_parser("cache", help="list the on-disk cache of decoded image folders (folder, "
                                "entries, sizes), or free it")
    cache.add_argument("--clear", action="store_true", help="remove every entry and say how much was freed")
    cache.set_defaults(handler=_lazy("studio.commands.cache", "run"))
    return parser, list(commands.choices)


def _lazy(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A handler imported on use, so `summary` and the window never pay for torch or the trainer."""

    def handler(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), function)(args)

    return handler


def _cmd_summary(args: argparse.Namespace) -> int:
    from studio.core.project import load_project
    from studio.core.safe_io import printable
    from studio.core.summary import format_summary, summarize

    project = load_project(args.file)
    summary = summarize(project.graph)
    batch = args.batch_size or project.training["batch_size"]
    print(format_summary(summary, title=printable(project.name), batch_size=batch,
                         training=project.training))
    return 1 if summary.problems else 0


def _open_window(path: str | None) -> int:
    from studio.gui.app import run

    return run(path)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, commands = _parser()
    # Anything other than a command, given alone, is a file to open in the window.
    known = {*commands, "-h", "--help"}
    if not argv or (argv[0] not in known and len(argv) == 1 and not argv[0].startswith("-")):
        return _guarded(lambda: _open_window(argv[0] if argv else None))
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
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
    except OSError as exc:  # a file problem no layer above put in words
        from studio.core.safe_io import reason

        where = f"'{exc.filename}': " if exc.filename else ""
        print(f"model-studio: error: {where}{reason(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (MemoryError, RuntimeError) as exc:
        from studio.core.memory_estimate import is_out_of_memory

        if not is_out_of_memory(exc):
            raise
        print("model-studio: error: the machine ran out of memory; make layers smaller or the batch smaller",
              file=sys.stderr)
        return EXIT_USAGE
