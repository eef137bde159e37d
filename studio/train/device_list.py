"""This machine's training devices as one JSON line, for a process that must not touch torch itself.

`python -m studio.train.device_list` prints `[["cuda:0", "NVIDIA H200"], ["cpu", "CPU (16 cores)"]]` and
exits; the window runs it so that its own process never imports torch for it nor initialises CUDA (a
CUDA context costs the process hundreds of megabytes for as long as it lives). A failure is one line on
standard error and exit status 1.
"""

from __future__ import annotations

import json
import sys

from studio.core.errors import failure_text


def main() -> int:
    try:
        from studio.train.devices import device_choices

        choices = device_choices()
    except Exception as exc:  # no torch, a broken driver: one line for whoever asked
        print(failure_text(exc), file=sys.stderr)
        return 1
    print(json.dumps([[device, text] for device, text in choices]), flush=True)
    return 0


def read_choices(output: str) -> list[tuple[str, str]]:
    """The (device, description) pairs in what `main` printed; ValueError when there are none."""
    lines = [line for line in output.splitlines() if line.strip()]
    try:
        pairs = json.loads(lines[-1])
        choices = [(str(device), str(text)) for device, text in pairs]
    except (IndexError, ValueError, TypeError):
        raise ValueError("the device check printed no list of devices") from None
    if not choices:
        raise ValueError("the device check found no device")
    return choices


if __name__ == "__main__":
    sys.exit(main())
