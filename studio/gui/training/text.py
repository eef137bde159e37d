"""The words the training panel shows: the progress line, the log lines, the run names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from studio.train.progress import epoch_summary

STATUS_TEXT = {"completed": "Completed", "stopped": "Stopped", "failed": "Failed",
               "early_stopped": "Stopped early", "cancelled": "Cancelled"}


def clock(seconds: float) -> str:
    """mm:ss, or h:mm:ss from an hour on."""
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def progress_text(info: Mapping[str, Any]) -> str:
    """"Epoch 3/10 · batch 20/45 · 4,210 samples/s · ETA 00:12" from an `on_batch_end` info."""
    return (f"Epoch {info['epoch']}/{info['epochs']} · batch {info['batch']}/{info['batches']} · "
            f"{info['samples_per_s']:,.0f} samples/s · ETA {clock(info['eta'])}")


def position(info: Mapping[str, Any]) -> str:
    """"epoch 3/10, batch 20/45" from an `on_batch_end` info."""
    return f"epoch {info['epoch']}/{info['epochs']}, batch {info['batch']}/{info['batches']}"


def paused_text(info: Mapping[str, Any]) -> str:
    """The progress line of a paused run: where it holds, without the figures of a run that moves."""
    where = f" at {position(info)}" if info else " before the first batch"
    return f"Paused{where} · Resume (F6) continues"


def begin_line(info: Mapping[str, Any]) -> str:
    """"Training on cpu, 2 threads, bfloat16: 1,437 samples, ..." from an `on_train_begin` info."""
    threads = info["settings"].get("threads", 0)
    on = info["device"]
    if on == "cpu":
        on += f", {threads} thread{'s' if threads != 1 else ''}"
    on += f", {info.get('precision', 'float32')}"
    start = f" from epoch {info['start_epoch']}" if info["start_epoch"] > 1 else ""
    held = f"; data {info['data']}" if info.get("data") else ""
    return (f"Training on {on}{start}: {info['samples']:,} samples, {info['val_samples']:,} for validation, "
            f"{info['batches']} batches per epoch{held}")


def epoch_line(info: Mapping[str, Any]) -> str:
    """Keras' line for a finished epoch, prefixed with the epoch it is about."""
    return f"Epoch {info['epoch']}/{info['epochs']} - {epoch_summary(info)}"


def end_line(status: str, message: str, duration_s: float | None = None) -> str:
    took = f" after {clock(duration_s)}" if duration_s is not None else ""
    head = f"{STATUS_TEXT.get(status, status.capitalize())}{took}"
    return f"{head}: {message}" if message else f"{head}."


def run_label(index: int, run: Mapping[str, Any], today: date | None = None) -> str:
    """"#3 · 14:05" (today) or "#3 · Mar 03 14:05": the run's number in the project and when it started,
    in local time."""
    try:
        started = datetime.fromisoformat(str(run.get("started", ""))).astimezone()
    except ValueError:
        return f"#{index}"
    same_day = started.date() == (today or date.today())
    return f"#{index} · {started.strftime('%H:%M' if same_day else '%b %d %H:%M')}"


def best_value(run: Mapping[str, Any]) -> tuple[str, float | None]:
    """The run's headline figure: ("val_accuracy", 0.93) at its best epoch (the last without one)."""
    epochs = run.get("epochs") or []
    if not epochs:
        return "", None
    best = run.get("best_epoch")
    entry = next((e for e in epochs if e.get("epoch") == best), epochs[-1])
    for key in ("val_accuracy", "val_mae", "accuracy", "mae"):
        if entry.get(key) is not None:
            return key, float(entry[key])
    return "", None


def kept_weights(record: Mapping[str, Any], last_batch: Mapping[str, Any]) -> tuple[str, str]:
    """Which weights a run the trainer stopped keeps, as (a few words for the progress line, a sentence
    for the log): the weights after its last batch, which match its epoch figures only when it stopped at
    the end of an epoch. `last_batch` is the run's last `on_batch_end` info ({} when none came)."""
    if not record.get("weights"):
        return "no weights kept", "No weights were kept."
    epochs = record.get("epochs") or []
    full = epochs[-1].get("epoch") if epochs else None
    if not last_batch or last_batch["batch"] == last_batch["batches"]:
        if full is None:
            return "keeps its last batch's weights", "The run keeps the weights of its last batch."
        return (f"keeps the weights of the end of epoch {full}",
                f"The run keeps the weights of the end of epoch {full}, the weights its figures were "
                "measured on.")
    figures = (f"the figures of epoch {full}, its last full epoch, were measured on earlier weights"
               if full is not None else "no epoch finished, so it has no epoch figures")
    return (f"keeps the weights of {position(last_batch)}",
            f"The run keeps the weights of its last batch ({position(last_batch)}); {figures}.")


def run_headline(record: Mapping[str, Any], *, kept: str = "") -> str:
    """"Completed after 00:12 · best val_accuracy 0.9512 (epoch 10)"; a stopped run names its last full
    epoch's figure instead, since its weights are not those of its best epoch, after `kept` (which
    weights it keeps, see `kept_weights`)."""
    status = str(record.get("status", ""))
    head = end_line(status, "", record.get("duration_s")).rstrip(".") + (f" · {kept}" if kept else "")
    if status == "stopped":
        epochs = record.get("epochs") or []
        last = {**record, "best_epoch": None}
        key, value = best_value(last)
        return head + (f" · last full epoch {epochs[-1].get('epoch')}: {key} {value:.4f}"
                       if value is not None else "")
    key, best = best_value(record)
    epoch = f" (epoch {record['best_epoch']})" if record.get("best_epoch") else ""
    return head + (f" · best {key} {best:.4f}{epoch}" if best is not None else "")


def ready_text(runs: Sequence[Mapping[str, Any]]) -> str:
    """The progress line of a project just opened: ready, and how its own last run went."""
    if not runs:
        return "Ready to train"
    return f"Ready to train · last run #{len(runs)}: {run_headline(runs[-1])}"
