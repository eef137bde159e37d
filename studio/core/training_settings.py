"""The training settings a project carries, declared once as `Param`s."""

from __future__ import annotations

from studio.core.params import Param, params

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LOSSES = ("auto", "cross_entropy", "binary_cross_entropy", "mse", "mae", "huber")
SCHEDULES = ("none", "step", "cosine", "plateau", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
CPU_PRECISIONS = ("auto", "bfloat16", "float32")
_DECAYING = ("schedule", ("step", "plateau"))

TRAINING_PARAMS = params(
    Param("optimizer", "choice", "adam", "Update rule for the weights.", choices=OPTIMIZERS),
    Param("learning_rate", "float", 1e-3, "Step size of the optimizer.", minimum=1e-8, maximum=10.0),
    Param("momentum", "float", 0.9, "Momentum for SGD (and RMSprop).", minimum=0.0, maximum=0.999,
          shown_when=("optimizer", ("sgd", "rmsprop"))),
    Param("nesterov", "bool", False, "Nesterov momentum (SGD only).", shown_when=("optimizer", ("sgd",))),
    Param("weight_decay", "float", 0.0, "L2 penalty on the weights (decoupled for AdamW).",
          minimum=0.0, maximum=1.0),
    Param("loss", "choice", "auto", "Loss to minimise; 'auto' picks it from the task and output layer.",
          choices=LOSSES),
    Param("batch_size", "int", 32, "Samples per optimizer step.", minimum=1, maximum=65536),
    Param("epochs", "int", 10, "Passes over the training data.", minimum=1, maximum=100000),
    Param("seed", "int", 0, "Random seed: the same seed repeats a CPU run exactly.",
          minimum=0, maximum=2**31 - 1),
    Param("device", "choice", "auto", "Where to train: auto picks CUDA, then MPS, then CPU.",
          choices=DEVICES),
    Param("schedule", "choice", "none", "Learning-rate schedule.", choices=SCHEDULES),
    Param("step_size", "int", 10, "Epochs between decays (step schedule), or epochs without a better "
          "validation loss before a decay (plateau schedule).", minimum=1, maximum=100000,
          shown_when=_DECAYING),
    Param("gamma", "float", 0.1, "Decay factor (step and plateau schedules).", minimum=1e-4, maximum=1.0,
          shown_when=_DECAYING),
    Param("early_stopping", "int", 0, "Stop after this many epochs without a better validation loss "
          "(0 = never).", minimum=0, maximum=100000),
    Param("grad_clip", "float", 0.0, "Clip the gradient norm to this value (0 = no clipping).",
          minimum=0.0, maximum=1e6),
    Param("mixed_precision", "bool", True, "Use autocast: bfloat16 or float16 on CUDA, and on a CPU as "
          "CPU precision says."),
    Param("cpu_precision", "choice", "auto", "Precision of mixed-precision training on a CPU: auto picks "
          "bfloat16 for convolutional models where the CPU does it natively and faster (checked once), "
          "else float32.",
          choices=CPU_PRECISIONS, label="CPU precision", shown_when=("device", ("auto", "cpu"))),
    Param("channels_last", "bool", True, "Use the channels-last memory layout for convolutional models."),
    Param("threads", "int", 0, "CPU threads for training (0 = every core).", minimum=0, maximum=1024),
    Param("grad_norm_every", "int", 10, "Report per-layer gradient norms every N batches (0 = never).",
          minimum=0, maximum=1000000),
)
