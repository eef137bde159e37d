#!/usr/bin/env bash
# The Trainer against a hand-written loop on a CUDA machine (benchmarks/device_check.py), run by the
# machine's own python3 (or $PYTHON): it needs torch there, and runs from a copy of the working tree
# without the project's virtual environment. Exit status: the script's, or 2 when it cannot run.
set -u
cd "$(dirname "$0")/.." || exit 2
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
    echo "no $python on this machine: nothing to check"
    exit 2
fi
if ! "$python" -c "import torch" >/dev/null 2>&1; then
    echo "no torch in $(command -v "$python"): nothing to check"
    exit 2
fi
PYTHONUNBUFFERED=1 exec "$python" benchmarks/device_check.py "$@"
