"""A long fuzzing run of project files: read, exported to every format, opened in the window.

    .venv/bin/python benchmarks/fuzz_projects.py --examples 10000 [--seed N]

The checks and the inputs are those of tests/test_fuzz_export_and_open.py (which runs a few hundred
inputs in the test suite): only a ProjectError from reading, only a StudioError from exporting, one
shown message (never an exception) from the window, and no code from the file ever run. At the end it
prints how many inputs were tried, accepted and refused. On a failure it prints the smallest failing
input found and writes it to a file, and exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from PySide6.QtCore import QSettings, qInstallMessageHandler  # noqa: E402

from studio.gui.app import application  # noqa: E402
from studio.gui.files import ProjectFiles  # noqa: E402
from tests.test_fuzz_export_and_open import check_file, project_files  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="how many inputs to try")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run (default: a random seed)")
    args = parser.parse_args()
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    warnings.simplefilter("ignore")  # exporters warn about traced models; not what is checked here

    with tempfile.TemporaryDirectory(prefix="fuzz-projects-") as scratch:
        folder = Path(scratch)
        files, errors = _window(folder)
        tally: Counter = Counter()
        failing: list[bytes] = []

        @seed(run_seed)
        @settings(max_examples=args.examples, deadline=None, database=None,
                  phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
        @given(project_files())
        def fuzz(data: bytes) -> None:
            tally["inputs"] += 1
            try:
                tally.update(check_file(data, folder, files, errors))
            except BaseException:
                failing.append(data)
                raise

        start = time.perf_counter()
        try:
            fuzz()
        except Exception:
            traceback.print_exc()
            kept = Path(tempfile.gettempdir()) / f"fuzz-projects-failure-{run_seed}.studio"
            kept.write_bytes(failing[-1])
            print(f"\nFAILED (seed {run_seed}); the smallest failing input is in {kept}")
            _report(tally, time.perf_counter() - start)
            return 1
        _report(tally, time.perf_counter() - start)
        print(f"seed {run_seed}: no failure")
        return 0


def _window(folder: Path) -> tuple[ProjectFiles, list[str]]:
    """A studio window with private settings whose error messages are collected, not shown."""
    from studio.gui.main_window import MainWindow

    application()
    qInstallMessageHandler(_quiet_platform_notes)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder / "settings"))
    errors: list[str] = []
    ProjectFiles.show_error = lambda self, title, text: errors.append(text)
    window = MainWindow(probe_device=False)
    window.resize(1280, 800)
    window.show()
    main.window = window  # kept alive for the run
    return window.files, errors


def _quiet_platform_notes(_kind, _context, message: str) -> None:
    """Qt's messages, but for the off-screen platform's note on every window it shows."""
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def _report(tally: Counter, seconds: float) -> None:
    inputs = tally["inputs"]
    print(f"inputs tried: {inputs}; files accepted: {tally['accepted']}, refused: {tally['refused']}")
    exports = {key: count for key, count in sorted(tally.items()) if key.startswith("export")}
    if exports:
        print("exports: " + ", ".join(f"{key.removeprefix('export ')} {n}" for key, n in exports.items()))
    if inputs:
        print(f"{seconds:.1f} s in all, {1000 * seconds / inputs:.1f} s per 1000 inputs")


if __name__ == "__main__":
    sys.exit(main())
