"""The slides' cats-vs-dogs CNN trained by the studio and by Keras, on the same images and machine.

    .venv/bin/python benchmarks/bench_keras.py --keras-python /path/to/python-with-keras [--epochs N]

Keras is not a dependency of the studio, so it runs in another interpreter (one with Keras and a backend,
TensorFlow or JAX) on the same generated images: the studio's uint8 pixels scaled to float32 0..1 exactly
as the Trainer scales each batch, saved once to a temporary file. Both train the model of
`projects/cats_vs_dogs.studio` (RMSprop at its rate and momentum, binary cross-entropy, batch 20): the
studio in whatever precision its Trainer picks (bfloat16 autocast on CPUs with native bf16), Keras once in
its default float32 policy and once in "mixed_bfloat16", each in a worker process of its own. One epoch of
each is timed in turn, the order rotating every round, so a busy moment on a shared machine hits all three
alike. Each side times its epoch itself, setup left out: the studio's run record, Keras' callbacks
inside `fit`. After a warm-up round the report is the median time per step of each, and the studio's
speed against Keras' faster policy (the headline) and its other one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core.build import build_model  # noqa: E402
from studio.core.pixels import model_input  # noqa: E402
from studio.core.project import load_project  # noqa: E402
from studio.data import load_dataset  # noqa: E402
from studio.train import Trainer  # noqa: E402

PROJECT = ROOT / "projects" / "cats_vs_dogs.studio"
POLICIES = ("float32", "mixed_bfloat16")
WORKER_EXIT_S = 30  # how long a worker may take to end once its input is closed

# Runs in the Keras interpreter: argv is the images file, the dtype policy, and the project's learning rate
# and momentum. It builds the slides'
# model, says it is ready (or why not) as one JSON line, then trains one epoch per "epoch" line read.
KERAS_WORKER = """
import json, sys, time
try:
    import numpy as np
    import keras
    from keras import layers
    keras.mixed_precision.set_global_policy(sys.argv[2])
    data = np.load(sys.argv[1])
    x, y = data["x"], data["y"]
    model = keras.Sequential([
        keras.Input(shape=x.shape[1:]),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Conv2D(128, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Flatten(), layers.Dense(128, activation="relu"),
        # float32 output, as Keras' mixed-precision guide advises; a no-op under the float32 policy
        layers.Dense(1, activation="sigmoid", dtype="float32"),
    ])
    optimizer = keras.optimizers.RMSprop(float(sys.argv[3]), momentum=float(sys.argv[4]))
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    backend = keras.backend.backend()
    engine = __import__(backend).__version__ if backend in ("tensorflow", "jax") else ""
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
    sys.exit(1)

class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start

print(json.dumps({"params": model.count_params(), "keras": keras.__version__, "backend": backend,
                  "engine": engine, "policy": keras.mixed_precision.global_policy().name,
                  "x_dtype": str(x.dtype), "x_range": [float(x.min()), float(x.max())],
                  "x_sum": float(x.sum(dtype=np.float64))}), flush=True)
timer = EpochTimer()
for line in sys.stdin:
    try:
        model.fit(x, y, batch_size=int(line), epochs=1, verbose=0, shuffle=True, callbacks=[timer])
        print(json.dumps({"seconds": timer.seconds}), flush=True)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        sys.exit(1)
"""


class WorkerFailed(Exception):
    """A Keras worker could not start or train; the message is one line."""


class StudioFailed(Exception):
    """The studio's run did not complete; the message is one line."""


class KerasWorker:
    """One Keras process in one dtype policy, training an epoch whenever asked."""

    def __init__(self, python: str, images: Path, policy: str, training: dict, log: Path):
        self.policy = policy
        self.batch = training["batch_size"]
        self.log = log
        self._log_file = log.open("w")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
        try:
            self.process = subprocess.Popen([python, "-c", KERAS_WORKER, str(images), policy,
                                             str(training["learning_rate"]), str(training["momentum"])],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self._log_file, text=True, env=env)
        except OSError as exc:
            self._log_file.close()
            raise WorkerFailed(f"cannot run {python}: {exc.strerror}") from None
        self.info = self._answer()

    def _answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=WORKER_EXIT_S)
            tail = [t for t in self.log.read_text(errors="replace").splitlines() if t.strip()][-1:]
            raise WorkerFailed(f"Keras {self.policy} worker exited ({self.process.returncode}): "
                               f"{tail[0] if tail else 'no message'}")
        answer = json.loads(line)
        if "error" in answer:
            raise WorkerFailed(f"Keras {self.policy}: {answer['error']}")
        return answer

    def epoch(self) -> float:
        """Seconds of one training epoch, timed inside `fit`."""
        self.process.stdin.write(f"{self.batch}\n")
        self.process.stdin.flush()
        return self._answer()["seconds"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=WORKER_EXIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


class StudioSide:
    """The studio's Trainer on the project's model and settings, one epoch a call, on the CPU."""

    def __init__(self, data):
        project = load_project(PROJECT)
        torch.manual_seed(0)
        self.model = build_model(project.graph, logits=True)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.settings = {**project.training, "epochs": 1, "device": "cpu"}
        self.data = data
        self.precision = ""

    def epoch(self) -> float:
        result = Trainer(self.model, self.data, self.settings).fit()
        if result.status != "completed":
            raise StudioFailed(f"the studio's run ended {result.status}: {result.message}")
        self.precision = result.precision
        return result.epochs[0]["time_s"]


def measure(sides: dict, epochs: int) -> dict[str, list[float]]:
    """Epoch seconds of each side, one epoch each a round, the order rotating; the first round not kept.

    A side whose worker fails is dropped with a line saying why, and the others go on."""
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(epochs + 1):
        names = list(sides)
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            try:
                value = sides[name].epoch()
            except WorkerFailed as exc:
                print(f"{exc}; it is left out")
                sides.pop(name).close()
                seconds.pop(name)
                continue
            if round_:
                seconds[name].append(value)
    return seconds


def start_workers(python: str, images: Path, training: dict, folder: Path) -> dict[str, KerasWorker]:
    workers = {}
    for policy in POLICIES:
        try:
            log = folder / f"{policy}.log"
            workers[f"Keras {policy}"] = KerasWorker(python, images, policy, training, log)
        except WorkerFailed as exc:
            print(f"{exc}; it is left out")
    return workers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-python", required=True, help="a Python interpreter with Keras")
    parser.add_argument("--samples", type=int, default=400, help="generated 150x150x3 images, 10%% held out")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs of each, after a warm-up round")
    args = parser.parse_args()
    data = load_dataset("shapes", {"n_samples": args.samples, "classes": 2, "image_size": [150, 150],
                                   "channels": "3", "validation_split": 0.1})
    data.val_x, data.val_y = data.val_x[:0], data.val_y[:0]  # time training alone, as Keras' fit does here
    training = load_project(PROJECT).training
    batch = training["batch_size"]
    steps = -(-data.num_train // batch)
    # The exact floats the Trainer's batches hold, channels last as Keras wants them.
    x = model_input(data.train_x).permute(0, 2, 3, 1).contiguous().numpy()
    y = data.train_y.numpy().astype(np.float32)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        images = folder / "images.npz"
        np.savez(images, x=x, y=y)
        workers = start_workers(args.keras_python, images, training, folder)
        if not workers:
            print(f"no Keras worker started in {args.keras_python}: nothing to compare")
            return 2
        try:
            studio = StudioSide(data)
            seconds = measure({"studio": studio, **workers}, args.epochs)
        except StudioFailed as exc:
            print(exc)
            return 1
        finally:
            for worker in workers.values():
                worker.close()
    if not any(name in seconds for name in workers):
        print("every Keras worker failed: nothing to compare")
        return 2
    first = next(iter(workers.values())).info
    engine = f"{first['backend']} {first['engine']}".strip()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; Keras {first['keras']} on "
          f"{engine}; {data.num_train} images, {steps} steps of {batch} per epoch, median of "
          f"{args.epochs} epochs each")
    studio_sum = float(x.sum(dtype=np.float64))
    for name, worker in workers.items():
        low, high = worker.info["x_range"]
        same = worker.info["x_dtype"] == "float32" and worker.info["x_sum"] == studio_sum
        print(f"{name}: {worker.info['params']:,} parameters (studio {studio.params:,}); inputs "
              f"{worker.info['x_dtype']} in {low:g}..{high:g}, checksum "
              f"{'equal to' if same else 'DIFFERENT from'} the studio's")
    ms = {name: statistics.median(values) / steps * 1000 for name, values in seconds.items()}
    label = {"studio": f"studio ({studio.precision})",
             **{name: f"Keras ({worker.info['policy']} policy)" for name, worker in workers.items()}}
    print("ms/step of each epoch, slowest to fastest (noise on a shared machine only slows): " + " | ".join(
        f"{label[name]} " + " ".join(f"{t / steps * 1000:.0f}" for t in sorted(values, reverse=True))
        for name, values in seconds.items()))
    keras_sides = sorted((name for name in ms if name != "studio"), key=ms.__getitem__)
    fastest = keras_sides[0]
    print(f"{label['studio']}: {ms['studio']:.0f} ms/step | {label[fastest]}, Keras' faster here: "
          f"{ms[fastest]:.0f} ms/step | studio is {ms[fastest] / ms['studio']:.2f}x Keras' speed")
    for name in keras_sides[1:]:
        print(f"{label[name]}: {ms[name]:.0f} ms/step; against it the studio runs at "
              f"{ms[name] / ms['studio']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
