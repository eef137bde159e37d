"""The training engine's error types (kept free of torch so anyone can catch them cheaply)."""

from __future__ import annotations

from studio.core.errors import StudioError


class TrainingError(StudioError):
    """Training cannot start or continue as asked: wrong loss for the task, missing device, bad file.

    `setting` names the training setting at fault when there is one.
    """

    def __init__(self, message: str, *, setting: str | None = None):
        self.setting = setting
        self.reason = message
        super().__init__(f"{setting}: {message}" if setting else message)


class DamagedCheckpoint(TrainingError):
    """A run's checkpoint cannot be resumed: a file is missing, unreadable, truncated or inconsistent.

    `what` says what is wrong; the message says where, and that a fresh run is the way on."""

    def __init__(self, checkpoint: object, what: str):
        self.checkpoint = str(checkpoint)
        self.what = what
        super().__init__(f"checkpoint {checkpoint} is damaged ({what}); train without --resume")
