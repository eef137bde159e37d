"""The training loop: batches sliced from pre-loaded tensors, cooperative stop/pause, exact resume.

Hot-loop rules: no per-sample DataLoader; no host sync per batch on a GPU (batch losses stay on the
device until the end of the epoch, plus a time-throttled peek for progress), while on a CPU, where
reading a value is free, losses are kept as plain floats; the metric costs one small op per batch
(predictions go into an epoch buffer, scored once per epoch); no info dicts built for events nobody
listens to.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any

import torch
from torch import Tensor, nn

from studio.core.memory_estimate import ADVICE, check_built_model_fits, is_out_of_memory
from studio.core.params import ParamValueError
from studio.core.safe_io import reason
from studio.core.training_settings import TRAINING_PARAMS
from studio.train import distributed
from studio.train.callbacks import CallbackError, CallbackList
from studio.train.checkpoints import (
    BEST_WEIGHTS,
    LAST_WEIGHTS,
    STATE_FILE,
    apply_state_dict,
    check_rng_state,
    checkpoint_paths,
    cpu_state_dict,
    fitted_state_dict,
    load_state,
    read_weights,
    restore_rng_state,
    rng_state,
    save_state,
    save_weights,
)
from studio.train.devices import cpu_count, resolve_device
from studio.train.errors import DamagedCheckpoint, TrainingError
from studio.train.gradients import ThroughTime, grad_norms, layer_groups
from studio.train.losses import resolve_objective
from studio.train.optim import build_optimizer, build_scheduler, current_lr
from studio.train.precision import precision_name, training_dtype
from studio.train.record import RunResult
from studio.train.state import (
    STATE,
    EpochState,
    PauseAwareClock,
    RunState,
    StateDamage,
    check,
    check_like,
    check_optimizer_state,
    check_partial_epoch,
    read_floats,
)

log = logging.getLogger(__name__)

STATE_FORMAT = 1
GPU_PEEK_INTERVAL_S = 0.05  # how often a GPU run waits for a loss value to report progress
STOP_SYNC_EVERY_GPU = 16  # batches between the ranks' stop checks on GPUs (each waits for the device)
DEVICE_DATA_SHARE = 0.25  # data is copied to the GPU whole when it takes at most this share of free memory


class _Stopped(Exception):
    """Raised inside the loop when stop() was asked for; never leaves the trainer."""


class _Diverged(Exception):
    """The loss (or the weights) stopped being finite; carries where it happened."""

    def __init__(self, epoch: int, batch: int | None, value: float, what: str = "loss"):
        self.epoch, self.batch, self.value, self.what = epoch, batch, value, what
        super().__init__(what)


class Trainer:
    """Trains a ready `torch.nn.Module` on in-memory data with the project's training settings.

    `data` has train_x, train_y, val_x, val_y tensors, `info` (task, class_names, num_outputs) and
    an optional `augment` for training batches. `output_activation` ("sigmoid"/"softmax") says the
    model returns logits because its final activation was stripped; it defaults to the model's own
    `output_activation` attribute when it has one. Loss/task mismatches, a missing device and a
    model that cannot take the data raise `TrainingError` here, before any training.

    `fit()` runs once per call and returns a `RunResult`; `fit(resume=True)` continues the run saved
    in `checkpoint_dir` (mid-epoch too) with the same epoch numbering, schedule and history.
    `stop()`, `pause()` and `resume()` may be called from any thread.
    """

    def __init__(self, model: nn.Module, data: Any, settings: dict[str, Any] | None = None, *,
                 output_activation: str | None = None, callbacks: Any = (),
                 checkpoint_dir: str | Path | None = None, run_id: str | None = None):
        try:
            self.settings = TRAINING_PARAMS.validate(settings or {})
        except ParamValueError as exc:
            raise TrainingError(exc.reason, setting=exc.name) from None
        self.model = model
        self.data = data
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.run_id = run_id  # a new run's id (its checkpoint folder may be named after it); else drawn
        self.callbacks = CallbackList(callbacks)
        if output_activation is None and isinstance(getattr(model, "output_activation", None), str):
            output_activation = model.output_activation
        self.output_activation = output_activation
        _check_data(data)
        self.device = resolve_device(self.settings["device"])
        self.amp_dtype = training_dtype(self.device, self.settings, model)
        self.precision = precision_name(self.amp_dtype)
        self.channels_last = bool(self.settings["channels_last"] and data.train_x.dim() == 4
                                  and any(isinstance(m, nn.Conv2d) for m in model.modules()))
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        check_built_model_fits(model, self.settings, self.device)
        try:
            model.to(self.device, memory_format=self.memory_format)
        except (MemoryError, RuntimeError) as exc:
            if not is_out_of_memory(exc):
                raise
            raise TrainingError(f"the model does not fit in the memory of {self.device}; {ADVICE}") from None
        info = data.info
        classes = (len(info.class_names) or info.num_outputs) if info.task == "classification" else None
        probe = self._probe()
        self.objective = resolve_objective(self.settings["loss"], task=info.task, outputs=int(probe.shape[1]),
                                           classes=classes, output_activation=output_activation)
        self.objective.check_outputs(probe)
        self.objective.check_targets(data.train_y, "training")
        self.objective.check_targets(data.val_y, "validation")
        self._stop = threading.Event()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._fitting = threading.Lock()

    def _probe(self) -> Tensor:
        """The model's output for two training samples (eval mode, no gradients), checked to be 2-D."""
        from studio.core.pixels import model_input

        model = self.model
        x = model_input(self.data.train_x[:2].to(self.device))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(x)
        except Exception as exc:
            raise TrainingError(f"the model cannot run on this data (samples of shape {tuple(x.shape[1:])}): "
                                f"{exc}") from exc
        finally:
            model.train(was_training)
        if not isinstance(out, Tensor) or out.dim() != 2:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise TrainingError(f"the model must give (batch, outputs); it gives {shape}. Add a Flatten "
                                "or Dense layer at the end")
        return out.float()

    # -- control from any thread ------------------------------------------------------------------

    def stop(self) -> None:
        """End the run before the next batch (also wakes a paused run); the weights so far are kept."""
        self._stop.set()
        self._unpaused.set()

    def pause(self) -> None:
        """Hold the run before the next batch until `resume()` or `stop()`."""
        if not self._stop.is_set():
            self._unpaused.clear()

    def resume(self) -> None:
        self._unpaused.set()

    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    @property
    def running(self) -> bool:
        return self._fitting.locked()

    @property
    def _reads_every_batch(self) -> bool:
        """Whether batch losses are read as they come: free on a CPU, a wait for the device elsewhere."""
        return self.device.type == "cpu"

    # -- the run ----------------------------------------------------------------------------------

    def fit(self, *, resume: bool = False) -> RunResult:
        """Train for `settings["epochs"]` epochs (counting those of a resumed run) and return the record.

        Ends early on stop() ("stopped"), early stopping ("early_stopped"), a non-finite loss or an
        exception in a callback or the model ("failed", with the reason in `message`). It raises only
        for problems found before the first batch (TrainingError), e.g. nothing to resume.
        """
        if not self._fitting.acquire(blocking=False):
            raise TrainingError("this trainer is already training")
        threads_before = torch.get_num_threads()
        try:
            torch.set_num_threads(self.settings["threads"] or cpu_count())
            self._prepare(resume)
            return self._run()
        finally:
            for x in getattr(self, "_streamed", ()):
                x.stop()  # ends its read-ahead thread
            torch.set_num_threads(threads_before)
            self._stop.clear()
            self._unpaused.set()
            self._fitting.release()

    def _prepare(self, resume: bool) -> None:
        s = self.settings
        data = self.data
        self._batch_size = s["batch_size"]
        self._group = distributed.current()
        total = int(data.train_x.shape[0])
        # Under torchrun each rank trains on its own shard of every epoch (see distributed.shard).
        self._samples = -(-total // self._group[1]) if self._group else total
        self._batches = math.ceil(self._samples / self._batch_size)
        self._train_model = self._parallel_model() if self._group else self.model
        self._optimizer = build_optimizer(self.model.parameters(), s)
        self._scheduler, self._cadence = build_scheduler(self._optimizer, s, self._batches)
        fp16 = self.amp_dtype == torch.float16
        self._scaler = torch.amp.GradScaler("cuda") if fp16 else None
        self._autocast = (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
                          else contextlib.nullcontext())
        # The validation loss is summed in double precision where the device has it (MPS has not).
        self._acc_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self._groups = layer_groups(self.model)
        # Hooks on the recurrent layers only when someone reads gradient norms: none on a headless run.
        self._through_time = (ThroughTime(self._groups, self.model)
                              if self.callbacks.wants("on_grad_norms") and s["grad_norm_every"] else None)
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        self._place_data()
        self._wrote_weights = False
        if self.checkpoint_dir is not None:
            self._make_checkpoint_dir(resume)
        if resume:
            self._state = self._load_checkpoint()
        else:
            torch.manual_seed(s["seed"])
            self._state = RunState(run_id=self.run_id or uuid.uuid4().hex[:12],
                                       started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        # The weights a non-finite loss rolls back to, and how to name them in the message.
        self._good_weights = cpu_state_dict(self.model)
        self._good_from = "their values when training resumed" if resume else "their values before training"
        self._epoch: EpochState | None = None
        self._clock = PauseAwareClock()
        self._session_batches = 0

    def _make_checkpoint_dir(self, resume: bool) -> None:
        folder = self.checkpoint_dir
        if folder.exists() and not folder.is_dir():
            if resume:
                raise DamagedCheckpoint(folder, "a file where its folder should be")
            raise TrainingError(f"the checkpoint folder {folder} is a file; move it away to train")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainingError(f"cannot make the checkpoint folder {folder}: {reason(exc)}") from None

    def _place_data(self) -> None:
        """Put the data where batches are sliced from: on the GPU whole when it fits comfortably.

        Images go as they are held, uint8 (so the check counts their bytes, a quarter of float32); each
        batch becomes float on the device through `model_input`, after the slice and the copy. Samples
        streamed from disk (a tensor-like that is not a tensor) stay on the CPU with their targets; their
        batches are read ahead on a thread while the model trains, into page-locked memory for a GPU."""
        from studio.core.pixels import model_input

        data, obj = self.data, self.objective
        tensors = [data.train_x, obj.targets(data.train_y), data.val_x, obj.targets(data.val_y)]
        self._streamed = [x for x in (data.train_x, data.val_x) if not isinstance(x, Tensor)]
        size = sum(t.element_size() * t.nelement() for t in tensors)
        self._model_input = model_input
        fits = not self._streamed and _fits_on_device(self.device, size)
        home = self.device if fits else torch.device("cpu")
        self._train_x, self._train_t, self._val_x, self._val_t = (t.to(home) for t in tensors)
        self._transfer = home != self.device
        self._augment = getattr(data, "augment", None)
        if self.device.type == "cuda":
            for x in self._streamed:
                x.pin_batches()

    def _read_ahead(self, x: Any, order: Tensor) -> None:
        """Start reading the batches of `order` ahead when `x` streams from disk."""
        if not isinstance(x, Tensor):
            x.prefetch(order, self._batch_size, for_device=self.device)

    def _run(self) -> RunResult:
        s, progress, notify = self.settings, self._state, self.callbacks
        status, message = "completed", ""
        try:
            if notify.wants("on_train_begin"):
                notify("on_train_begin", self._begin_info())
            for number in range(progress.epochs_done + 1, s["epochs"] + 1):
                self._train_epoch(number)
                if self._end_epoch(number):
                    status, message = "early_stopped", self._early_stop_message()
                    break
        except _Stopped:
            status, message = "stopped", self._where(failed=False)
            self._save_after_interruption()
        except _Diverged as exc:
            status, message = "failed", self._restore_good_weights(exc)
        except Exception as exc:  # a callback or the model failed: report it, keep the weights
            log.exception("training failed")
            status = "failed"
            message = self._failure_message(exc)
            self._save_after_interruption()
        return self._finish(status, message)

    def _failure_message(self, exc: Exception) -> str:
        if isinstance(exc, (CallbackError, TrainingError)):
            return str(exc)
        if is_out_of_memory(exc):
            return f"{self.device} ran out of memory ({self._where(failed=True)}); {ADVICE}"
        return f"{type(exc).__name__}: {exc} ({self._where(failed=True)})"

    # -- one epoch --------------------------------------------------------------------------------

    def _train_epoch(self, number: int) -> None:
        epoch = self._epoch = self._start_epoch(number)
        notify = self.callbacks
        if notify.wants("on_epoch_begin"):
            notify("on_epoch_begin", {"epoch": number, "epochs": self.settings["epochs"],
                                      "batches": self._batches, "first_batch": epoch.batch + 1})
        model, optimizer, objective = self._train_model, self._optimizer, self.objective
        scaler, scheduler = self._scaler, self._scheduler
        per_batch_schedule = self._cadence == "batch"
        x_all, t_all, order, batch_size = self._train_x, self._train_t, epoch.order, self._batch_size
        predictions = epoch.predictions
        transfer, device, fmt, augment = self._transfer, self.device, self.memory_format, self._augment
        # Slicing drops the channels-last layout; a channels-last model given a contiguous batch runs
        # much slower than either layout alone, so each batch is converted.
        convert = self.channels_last
        clip = self.settings["grad_clip"]
        norm_every = self.settings["grad_norm_every"] if notify.wants("on_grad_norms") else 0
        through_time = self._through_time if self._through_time and self._through_time.active else None
        wants_batch = notify.wants("on_batch_end")
        host_values = self._reads_every_batch
        next_peek = 0.0
        unpaused, stop = self._unpaused, self._stop
        # Ranks of a distributed run stop together: a stop asked of one is shared with the others at
        # the same batch, or those would wait forever for it in the next collective step.
        shared_stop = self._group is not None
        model.train()
        for b in range(epoch.batch, self._batches):
            if not unpaused.is_set():
                self._wait_while_paused()
            if (self._ranks_stop(b) if shared_stop else stop.is_set()):
                raise _Stopped
            rows = slice(b * batch_size, (b + 1) * batch_size)
            index = order[rows]
            x = x_all.index_select(0, index)
            target = t_all.index_select(0, index)
            if transfer:
                x = x.to(device, non_blocking=True)
                target = target.to(device, non_blocking=True)
            x = self._model_input(x)  # uint8 pixels become float here, on the device
            if augment is not None:
                x = augment(x)
            if convert:
                x = x.contiguous(memory_format=fmt)
            if through_time is not None and (self._state.step + 1) % norm_every == 0:
                through_time.arm()
            with self._autocast:
                loss = objective.loss_and_record(model(x), target, predictions[rows])
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            step = self._state.step = self._state.step + 1
            norms_due = norm_every and step % norm_every == 0
            if scaler is not None and (clip or norms_due):
                scaler.unscale_(optimizer)
            norms = grad_norms(self._groups) if norms_due else None
            # Before the scaler updates its scale: the inputs' gradients are still multiplied by it.
            reach = (through_time.collect(scaler.get_scale() if scaler else 1.0)
                     if norms_due and through_time is not None else None)
            if clip:
                nn.utils.clip_grad_norm_(self._params, clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            if per_batch_schedule:
                scheduler.step()
            if host_values:
                value = loss.item()
                epoch.losses.append(value)
            else:
                epoch.losses.append(loss.detach())
            epoch.batch = b + 1
            self._session_batches += 1
            if norms is not None:
                info = {"epoch": number, "batch": b + 1, "step": step, "norms": norms}
                if reach is not None:
                    info["through_time"] = reach
                notify("on_grad_norms", info)
            # Reading a loss waits for a GPU, so there it is peeked at only every so often.
            if host_values or b + 1 == self._batches or perf_counter() >= next_peek:
                if not host_values:
                    next_peek = perf_counter() + GPU_PEEK_INTERVAL_S
                    value = loss.item()
                if not math.isfinite(value):
                    raise _Diverged(number, b + 1, value)
                size = index.shape[0]
                epoch.seen_loss += value * size
                epoch.seen_samples += size
                if wants_batch:
                    notify("on_batch_end", self._batch_info(epoch, value))

    def _ranks_stop(self, batch: int) -> bool:
        """Whether any rank was asked to stop, checked by all ranks at the same batches."""
        every = STOP_SYNC_EVERY_GPU if self.device.type == "cuda" else 1
        return batch % every == 0 and distributed.any_rank(self._stop.is_set(), self.device)

    def _parallel_model(self) -> nn.Module:
        """The model wrapped so that backward passes average gradients across the ranks."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=ids)

    def _start_epoch(self, number: int) -> EpochState:
        seed = self.settings["seed"]
        # Seeded from (seed, epoch) alone, so a resumed run shuffles exactly like a straight one.
        generator = torch.Generator().manual_seed(seed * 1_000_003 + number)
        order = torch.randperm(int(self._train_x.shape[0]), generator=generator)
        if self._group:
            order = distributed.shard(order, *self._group)
        order = order.to(self._train_x.device)
        targets = self._train_t.index_select(0, order).to(self.device)
        epoch = EpochState(number=number, order=order, targets=targets,
                       predictions=self.objective.prediction_buffer(self._samples, self.device))
        partial, self._state.partial = self._state.partial, None
        if partial is not None:
            epoch.batch = int(partial["batch"])
            epoch.losses = [float(v) for v in partial["losses"]]
            epoch.metric_before = epoch.seen_metric = float(partial["metric_sum"])
            epoch.metric_from = epoch.seen_to = self._rows_done(epoch)
            epoch.time_before = float(partial["time_s"])
            epoch.seen_loss = float(partial["seen_loss"])
            epoch.seen_samples = int(partial["seen_samples"])
        self._read_ahead(self._train_x, order[epoch.batch * self._batch_size:])
        epoch.started, epoch.first_batch = self._clock.now(), epoch.batch
        return epoch

    def _rows_done(self, epoch: EpochState) -> int:
        return min(epoch.batch * self._batch_size, self._samples)

    def _epoch_metric_sum(self, epoch: EpochState) -> float:
        """The metric summed over every row predicted so far this epoch (one device read)."""
        done = self._rows_done(epoch)
        rows = slice(epoch.metric_from, done)
        return epoch.metric_before + float(self.objective.metric_sum(epoch.predictions[rows],
                                                                     epoch.targets[rows]))
        return epoch

    def _end_epoch(self, number: int) -> bool:
        """Validate, record, schedule and checkpoint a finished epoch.

        Returns True when early stopping ends the run.
        """
        s, progress, epoch, obj = self.settings, self._state, self._epoch, self.objective
        losses = read_floats(epoch.losses)  # on a GPU, the one wait for the device per epoch
        for b, value in enumerate(losses):
            if not math.isfinite(value):
                raise _Diverged(number, b + 1, value)
        last = self._samples - (self._batches - 1) * self._batch_size
        loss = (sum(losses[:-1]) * self._batch_size + losses[-1] * last) / self._samples
        metric = self._epoch_metric_sum(epoch) / obj.metric_count(self._samples)
        train_time = epoch.seconds(self._clock.now())
        validation = self._validate()
        lr = current_lr(self._optimizer)
        name = obj.metric
        entry: dict[str, Any] = {"epoch": number, "loss": loss, name: metric, "val_loss": None,
                                 f"val_{name}": None, "lr": lr}
        monitored = loss
        if validation is not None:
            monitored, entry[f"val_{name}"] = validation
            entry["val_loss"] = monitored
            if not math.isfinite(monitored):
                raise _Diverged(number, None, monitored, "validation loss")
        good = cpu_state_dict(self.model)
        if not all(bool(t.isfinite().all()) for t in good.values() if t.is_floating_point()):
            raise _Diverged(number, None, math.nan, "weights")
        entry["time_s"] = epoch.seconds(self._clock.now())
        entry["samples_per_s"] = self._samples / train_time if train_time > 0 else 0.0
        self._good_weights, self._good_from = good, f"the end of epoch {number}"
        self._epoch = None
        progress.history.append(entry)
        progress.batch_loss.extend(losses)
        progress.epochs_done = number
        if self._cadence == "epoch":
            self._scheduler.step()
        elif self._cadence == "plateau":
            self._scheduler.step(monitored)
        improved = monitored < progress.best_loss
        if improved:
            progress.best_loss, progress.best_epoch, progress.bad_epochs = monitored, number, 0
        else:
            progress.bad_epochs += 1
        if self.checkpoint_dir is not None:
            if improved:
                save_weights(good, self.checkpoint_dir / BEST_WEIGHTS)
            self._save_checkpoint(good)
        if self.callbacks.wants("on_epoch_end"):
            metrics = {k: entry[k] for k in ("loss", name, "val_loss", f"val_{name}")}
            remaining = (s["epochs"] - number) * self._batches
            self.callbacks("on_epoch_end", {
                "epoch": number, "epochs": s["epochs"], "batches": self._batches, "loss": loss,
                "metrics": metrics, "lr": lr, "time_s": entry["time_s"],
                "samples_per_s": entry["samples_per_s"], "elapsed": self._clock.now(),
                "eta": self._eta(remaining)})
        patience = s["early_stopping"]
        return bool(patience) and progress.bad_epochs >= patience

    def _validate(self) -> tuple[float, float] | None:
        """(loss, metric) on the validation split in eval mode without gradients; None without one."""
        count = int(self._val_x.shape[0])
        if count == 0:
            return None
        model, obj = self.model, self.objective
        loss_sum = torch.zeros((), dtype=self._acc_dtype, device=self.device)
        predictions = obj.prediction_buffer(count, self.device)
        self._read_ahead(self._val_x, torch.arange(count))
        model.eval()
        try:
            with torch.no_grad():
                for start in range(0, count, self._batch_size):
                    if self._stop.is_set() and self._group is None:  # ranks stop together, in training
                        raise _Stopped
                    rows = slice(start, start + self._batch_size)
                    x, target = self._val_x[rows], self._val_t[rows]
                    if self._transfer:
                        x, target = x.to(self.device, non_blocking=True), target.to(self.device)
                    x = self._model_input(x)
                    if self.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    with self._autocast:
                        loss = obj.loss_and_record(model(x), target, predictions[rows])
                    loss_sum.add_(loss.detach(), alpha=x.shape[0])
        finally:
            model.train()
        metric_sum = obj.metric_sum(predictions, self._val_t.to(self.device))
        return loss_sum.item() / count, float(metric_sum) / obj.metric_count(count)

    # -- pausing, progress info -------------------------------------------------------------------

    def _wait_while_paused(self) -> None:
        began = perf_counter()
        self._unpaused.wait()
        self._clock.add_pause(perf_counter() - began)

    def _eta(self, remaining_batches: int) -> float:
        done = self._session_batches
        return self._clock.now() / done * remaining_batches if done else 0.0

    def _batch_info(self, epoch: EpochState, loss: float) -> dict[str, Any]:
        b, number, epochs = epoch.batch, epoch.number, self.settings["epochs"]
        now = self._clock.now()
        spent = now - epoch.started
        samples = self._rows_done(epoch)
        session_samples = samples - epoch.first_batch * self._batch_size
        # Only the rows predicted since the last report are read, so reports cost O(1) a batch.
        rows = slice(epoch.seen_to, samples)
        epoch.seen_metric += float(self.objective.metric_sum(epoch.predictions[rows], epoch.targets[rows]))
        epoch.seen_to = samples
        metric = epoch.seen_metric / self.objective.metric_count(samples)
        remaining = (epochs - number) * self._batches + self._batches - b
        return {"epoch": number, "epochs": epochs, "batch": b, "batches": self._batches,
                "step": self._state.step, "loss": loss,
                "metrics": {"loss": epoch.seen_loss / max(epoch.seen_samples, 1),
                            self.objective.metric: metric},
                "lr": current_lr(self._optimizer),
                "samples_per_s": session_samples / spent if spent > 0 else 0.0,
                "elapsed": now, "eta": self._eta(remaining)}

    def _begin_info(self) -> dict[str, Any]:
        p = self._state
        return {"run_id": p.run_id, "epochs": self.settings["epochs"], "start_epoch": p.epochs_done + 1,
                "batches": self._batches, "samples": self._samples, "val_samples": int(self._val_x.shape[0]),
                "device": str(self.device), "precision": self.precision, "metric": self.objective.metric,
                "data": getattr(self.data, "storage", ""),
                "loss_name": self.objective.loss,
                "settings": TRAINING_PARAMS.to_json(self.settings),
                "history": [dict(e) for e in p.history]}

    def _where(self, *, failed: bool) -> str:
        """Where the run ended: the batch that failed, or the last batch done before a stop."""
        epoch = self._epoch
        if epoch is None or (failed and epoch.batch == self._batches):
            number = epoch.number if epoch is not None else self._state.epochs_done
            return f"{'failed' if failed else 'stopped'} at the end of epoch {number}"
        if not failed and epoch.batch == 0:
            return f"stopped after epoch {epoch.number - 1}"
        if failed:
            return f"failed at epoch {epoch.number}, batch {epoch.batch + 1} of {self._batches}"
        return f"stopped at epoch {epoch.number} after {epoch.batch} of {self._batches} batches"

    # -- endings and checkpoints ------------------------------------------------------------------

    def _restore_good_weights(self, exc: _Diverged) -> str:
        apply_state_dict(self.model, self._good_weights)
        where = f"epoch {exc.epoch}" + (f", batch {exc.batch}" if exc.batch is not None else "")
        self._epoch = None
        return (f"the {exc.what} became {exc.value} at {where}; the weights were restored to "
                f"{self._good_from}. Try a lower learning rate or gradient clipping.")

    def _save_after_interruption(self) -> None:
        """Checkpoint a stopped or failed run where it stands, so it can be resumed; never raises."""
        if self.checkpoint_dir is None:
            return
        try:
            self._save_checkpoint(cpu_state_dict(self.model))
        except Exception:
            log.exception("could not save a checkpoint after the run ended")

    def _save_checkpoint(self, weights: dict[str, Tensor]) -> None:
        paths = checkpoint_paths(self.checkpoint_dir)
        progress = self._state
        epoch = self._epoch
        if epoch is not None and epoch.batch > 0:
            progress.partial = {"batch": epoch.batch, "losses": read_floats(epoch.losses),
                                "metric_sum": self._epoch_metric_sum(epoch),
                                "time_s": epoch.seconds(self._clock.now()),
                                "seen_loss": epoch.seen_loss, "seen_samples": epoch.seen_samples}
        else:
            progress.partial = None
        save_weights(weights, paths["last"])
        self._wrote_weights = True
        save_state(paths["state"], {
            "format": STATE_FORMAT,
            "settings": TRAINING_PARAMS.to_json(self.settings),
            "optimizer": self._optimizer.state_dict(),
            "scheduler": self._scheduler.state_dict() if self._scheduler is not None else None,
            "scaler": self._scaler.state_dict() if self._scaler is not None else None,
            "rng": rng_state(self.device),
            "progress": {**progress.state(), "duration_s": progress.duration_s + self._clock.now()},
            "device": str(self.device),
        })
        progress.partial = None

    def _load_checkpoint(self) -> RunState:
        """The saved run, restored into the model, optimizer, schedule and random generators.

        Everything read is checked first (the state file against its schema and this run's optimizer,
        the weights against the model), so a damaged checkpoint is one message and changes nothing."""
        if self.checkpoint_dir is None:
            raise TrainingError("resuming needs the checkpoint folder of the run to continue")
        folder = self.checkpoint_dir
        paths = checkpoint_paths(folder)
        state = load_state(paths["state"])
        if isinstance(state.get("format"), int) and state["format"] != STATE_FORMAT:
            raise TrainingError(f"training state '{paths['state']}' has format {state['format']}; "
                                f"this version reads format {STATE_FORMAT}")
        try:
            check(state, STATE, "")
        except StateDamage as exc:
            raise DamagedCheckpoint(folder, f"{STATE_FILE}: {exc}") from None
        self._check_same_settings(state["settings"])
        weights = self._checkpoint_weights(folder, paths["last"])  # a changed model shows here first
        try:
            check_optimizer_state(state["optimizer"], self._optimizer)
            if self._scheduler is not None:
                check_like(state["scheduler"], self._scheduler.state_dict(), "the schedule state")
            if self._scaler is not None:
                check_like(state["scaler"], self._scaler.state_dict(), "the loss-scaler state")
            check_rng_state(state["rng"], self.device)
            check_partial_epoch(state["progress"], self._batches)
            self._check_same_length(state["scheduler"])
            progress = RunState.from_state(state["progress"])
        except StateDamage as exc:
            raise DamagedCheckpoint(folder, f"{STATE_FILE}: {exc}") from None
        try:
            self.model.load_state_dict(weights)
            self._optimizer.load_state_dict(state["optimizer"])
            if self._scheduler is not None and state["scheduler"] is not None:
                self._scheduler.load_state_dict(state["scheduler"])
            if self._scaler is not None and state["scaler"]:
                self._scaler.load_state_dict(state["scaler"])
            restore_rng_state(state["rng"], self.device)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:  # what the checks above could miss
            raise DamagedCheckpoint(folder, f"{STATE_FILE} does not fit this run: {exc}") from None
        self._wrote_weights = True
        return progress

    def _check_same_settings(self, saved: dict[str, Any]) -> None:
        """TrainingError when the run was trained with settings a resumed run cannot change."""
        for key in ("optimizer", "schedule", "batch_size"):
            if saved.get(key) != self.settings[key]:
                raise TrainingError(f"the run was trained with {key} {saved.get(key)!r}; resume it with the "
                                    "same value", setting=key)

    def _check_same_length(self, saved_schedule: dict[str, Any] | None) -> None:
        """A one-cycle schedule is laid out over the whole run, so its length cannot change."""
        total = (saved_schedule or {}).get("total_steps")
        if hasattr(self._scheduler, "total_steps") and total != self.settings["epochs"] * self._batches:
            raise TrainingError("a one-cycle schedule cannot be stretched to a different number of "
                                "epochs; resume with the run's own epoch count", setting="epochs")

    def _checkpoint_weights(self, folder: Path, path: Path) -> dict[str, Tensor]:
        """The checkpoint's last weights, checked to fit the model (and converted to its dtypes)."""
        try:
            weights = read_weights(path)
        except TrainingError as exc:
            raise DamagedCheckpoint(folder, str(exc)) from None
        try:
            return fitted_state_dict(self.model, weights, source=LAST_WEIGHTS)
        except TrainingError as exc:
            raise TrainingError(f"checkpoint {folder} does not fit this model ({exc}); the model was changed "
                                "since that run: train without --resume") from None

    def _early_stop_message(self) -> str:
        p = self._state
        saved = f", saved as {BEST_WEIGHTS}" if self.checkpoint_dir is not None else ""
        monitored = "validation" if self._val_x.shape[0] else "training"
        return (f"no better {monitored} loss for {self.settings['early_stopping']} epochs; the best was "
                f"epoch {p.best_epoch} ({p.best_loss:.4g}){saved}. The model keeps its last weights.")

    def _finish(self, status: str, message: str) -> RunResult:
        p = self._state
        result = RunResult(
            id=p.run_id, started=p.started, duration_s=p.duration_s + self._clock.now(),
            device=str(self.device), precision=self.precision, status=status, message=message,
            settings=TRAINING_PARAMS.to_json(self.settings), epochs=[dict(e) for e in p.history],
            batch_loss=p.batch_loss.values(), best_epoch=p.best_epoch,
            weights=LAST_WEIGHTS if self._wrote_weights else None)
        if self.callbacks.wants("on_train_end"):
            info = {"status": status, "message": message, "epochs_done": p.epochs_done,
                    "best_epoch": p.best_epoch, "elapsed": self._clock.now(), "result": result.to_dict()}
            error = self.callbacks.call_each("on_train_end", info)
            if error is not None and result.status != "failed":
                result.status, result.message = "failed", str(error)
        return result


def _check_data(data: Any) -> None:
    for split in ("train", "val"):
        x, y = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
        if x.shape[0] != y.shape[0]:
            raise TrainingError(f"the {split} split has {x.shape[0]} samples but {y.shape[0]} targets")
    if data.train_x.shape[0] == 0:
        raise TrainingError("the training split is empty")


def _fits_on_device(device: torch.device, size: int) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return size <= free * DEVICE_DATA_SHARE
    return True  # MPS shares memory with the CPU

