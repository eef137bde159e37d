"""A flood of batch reports is drawn at screen pace: at most ~30 redraws a second, no batch lost."""

from __future__ import annotations

import time

from studio.gui.training import controller as controller_module
from studio.gui.training.controller import REDRAW_HZ
from studio.gui.training.worker import Outcome, TrainingWorker
from studio.train import events

from .conftest import RUN_TIMEOUT_MS, open_project

BATCHES = 3000
FLOOD_S = 1.5


class FloodWorker(TrainingWorker):
    """Reports BATCHES batch events over FLOOD_S seconds (2,000 a second), each on its own: far more
    than a screen shows, whatever a sender does to bunch them."""

    def supervise(self, report) -> Outcome:
        report(events.Begin(run_id="flood", epochs=1, start_epoch=1, batches=BATCHES, samples=BATCHES,
                            val_samples=0, device="cpu", metric="accuracy", loss_name="cross_entropy",
                            settings={"threads": 1, "grad_norm_every": 10}))
        began = time.perf_counter()
        for b in range(1, BATCHES + 1):
            report(events.Batch(epoch=1, epochs=1, batch=b, batches=BATCHES, step=b, loss=1.0 / b,
                                metrics={"loss": 1.0, "accuracy": 0.5}, lr=0.01, samples_per_s=1000.0,
                                elapsed=0.0, eta=1.0))
            if b % 10 == 0:
                report(events.GradNorms(epoch=1, batch=b, step=b, norms={"dense": 0.5}))
            time.sleep(max(0.0, began + FLOOD_S * b / BATCHES - time.perf_counter()))
        self.outcome = Outcome(error="flood over")
        return self.outcome


def test_many_batches_a_second_redraw_at_most_thirty_times_a_second(qtbot, trainer, digits_file, monkeypatch):
    monkeypatch.setattr(controller_module, "TrainingWorker", FloodWorker)
    open_project(trainer, digits_file())
    panel = trainer.training.panel
    redraws: list[float] = []
    trainer.training.controller.updates.connect(lambda _events: redraws.append(time.perf_counter()))
    with qtbot.waitSignal(trainer.training.finished, timeout=RUN_TIMEOUT_MS):
        assert trainer.training.run()
        live = panel.live
    assert len(live.batch_loss) == BATCHES and len(panel.gradients.series["dense"]) == BATCHES // 10
    assert len(redraws) == panel.redraws >= 10
    busiest = max(sum(1 for t in redraws if start <= t < start + 1.0) for start in redraws)
    assert busiest <= REDRAW_HZ + 1
    assert panel.redraws <= REDRAW_HZ * (redraws[-1] - redraws[0] + 1)
