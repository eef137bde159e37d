"""The training engine's error type (kept free of torch so anyone can catch it cheaply)."""

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
