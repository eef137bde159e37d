"""Making a QAction the way every menu and toolbar of the studio shows one: icon, keys and a tooltip
that names its keys. The window and the features it hosts make their actions here."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from studio.gui import icons

Shortcut = QKeySequence | QKeySequence.StandardKey | str | list


def make_action(parent: QObject, text: str, slot: Callable[[], object], shortcut: Shortcut | None = None,
                icon: str | None = None, tip: str = "") -> QAction:
    """An action that calls `slot()` when triggered; `shortcut` may be one key sequence or a list."""
    action = QAction(text, parent)
    if icon:
        action.setIcon(icons.icon(icon))
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(k) for k in keys])
    shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip or text.replace('…', '')}" + (f" ({shown})" if shown else ""))
    action.setStatusTip(tip or text)
    action.triggered.connect(lambda _checked=False: slot())
    return action
