"""The slides' cats-vs-dogs CNN trained by the studio and by Keras, on the same images and machine.

    .venv/bin/python benchmarks/bench_keras.py --keras-python /path/to/python-with-tensorflow

Keras is not a dependency of the studio, so it runs in another interpreter (one with TensorFlow
installed) on the same generated images, saved to a temporary file. Both train the model of
`projects/cats_vs_dogs.studio` (RMSprop, binary cross-entropy, batch 20) for a few epochs; the report is
the median time per step after a warm-up epoch, and the ratio.
"""

from __future__ import annotations

import argparse
import json
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
from studio.core.project import load_project  # noqa: E402
from studio.data import load_dataset  # noqa: E402
from studio.train import Trainer  # noqa: E402

# Runs in the Keras interpreter: the slides' model, timed per epoch.
KERAS_SCRIPT = """
import json, sys, time
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

data = np.load(sys.argv[1])
x, y, epochs, batch = data["x"], data["y"], int(sys.argv[2]), int(sys.argv[3])
model = keras.Sequential([
    keras.Input(shape=(150, 150, 3)),
    layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
    layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
    layers.Conv2D(128, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
    layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
seconds = []
for _ in range(epochs + 1):
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)
    seconds.append(time.perf_counter() - start)
import tensorflow as tf
print(json.dumps({"params": model.count_params(), "epoch_seconds": seconds[1:], "version": tf.__version__}))
"""


def studio_epochs(data, epochs: int) -> list[float]:
    project = load_project(ROOT / "projects" / "cats_vs_dogs.studio")
    torch.manual_seed(0)
    model = build_model(project.graph, logits=True)
    seconds = []
    for _ in range(epochs + 1):
        result = Trainer(model, data, {**project.training, "epochs": 1, "device": "cpu"}).fit()
        seconds.append(result.epochs[0]["time_s"])
    return seconds[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-python", required=True, help="a Python interpreter with TensorFlow")
    parser.add_argument("--samples", type=int, default=400, help="training images (150x150x3)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up epoch")
    args = parser.parse_args()
    batch = 20
    data = load_dataset("shapes", {"n_samples": args.samples, "classes": 2, "image_size": [150, 150],
                                   "channels": "3", "validation_split": 0.1})
    data.val_x, data.val_y = data.val_x[:0], data.val_y[:0]  # time training alone, as Keras' fit does here
    steps = -(-data.num_train // batch)
    with tempfile.TemporaryDirectory() as folder:
        images = Path(folder) / "images.npz"
        np.savez(images, x=data.train_x.permute(0, 2, 3, 1).numpy(), y=data.train_y.numpy())
        done = subprocess.run([args.keras_python, "-c", KERAS_SCRIPT, str(images), str(args.epochs),
                               str(batch)], capture_output=True, text=True, check=True)
    keras = json.loads(done.stdout.strip().splitlines()[-1])
    studio_step = statistics.median(studio_epochs(data, args.epochs)) / steps * 1000
    keras_step = statistics.median(keras["epoch_seconds"]) / steps * 1000
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; TensorFlow {keras['version']}; "
          f"{data.num_train} images, {steps} steps of {batch} per epoch")
    print(f"Keras model parameters: {keras['params']:,}")
    print(f"studio: {studio_step:.0f} ms/step | Keras: {keras_step:.0f} ms/step | "
          f"studio is {keras_step / studio_step:.2f}x Keras' speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
