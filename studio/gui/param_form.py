"""A form generated from a ParamSet: the one editor behind layer, dataset and training settings.

Each editor reports a finished change as `edited(name, value)`; the owner turns that into a command.
Values are set back from the document with `set_values`, which never emits.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from studio.core.params import Param, ParamSet
from studio.gui import theme

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int


class _WheelGuard(QObject):
    """Spin boxes and combos ignore the wheel unless focused, so scrolling the form never edits it."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False


_wheel_guard: _WheelGuard | None = None


def _guard(widget: QWidget) -> None:
    global _wheel_guard
    if _wheel_guard is None:
        _wheel_guard = _WheelGuard()
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_wheel_guard)


class FloatSpinBox(QDoubleSpinBox):
    """A spin box for floats of any magnitude: shows 0.001 and 1e-08 alike, steps by the value's scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.rejected_text: str | None = None  # the last number typed outside the range, if any
        self.snapped_back: Callable[[str], None] | None = None  # told that number, as it is undone

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            ok = all(ch in "0123456789.eE+-" for ch in stripped)
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid, text, pos)
        inside = self.minimum() <= value <= self.maximum() and math.isfinite(value)
        self.rejected_text = None if inside else stripped
        return (QValidator.State.Acceptable if inside else QValidator.State.Intermediate, text, pos)

    def fixup(self, text: str) -> str:
        _tell_snap_back(self)
        return self.textFromValue(self.value())

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if value:
            step = 10 ** (math.floor(math.log10(abs(value))) - 1)
        else:
            step = min(0.01, self.maximum() / 100)
        self.setValue(round(value + steps * step, 12))


class IntSpinBox(QSpinBox):
    """A spin box for whole numbers that lets a number outside its range be typed (a QSpinBox refuses
    the keystroke), so that the snap-back to the last value can say what the range is."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rejected_text: str | None = None  # the last number typed outside the range, if any
        self.snapped_back: Callable[[str], None] | None = None  # told that number, as it is undone

    def fixup(self, text: str) -> str:
        _tell_snap_back(self)
        return super().fixup(text)

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip().replace(self.locale().groupSeparator(), "")
        try:
            value = int(stripped)
        except ValueError:
            self.rejected_text = None
            return super().validate(text, pos)
        if not self.minimum() <= value <= self.maximum():
            self.rejected_text = stripped
            return (QValidator.State.Intermediate, text, pos)
        self.rejected_text = None
        return super().validate(text, pos)


def _tell_snap_back(box: IntSpinBox | FloatSpinBox) -> None:
    """Qt undoes a number typed outside the range through `fixup`: say which number it was."""
    typed, box.rejected_text = box.rejected_text, None
    if typed is not None and box.snapped_back is not None:
        box.snapped_back(typed)


class _Editor(ABC):
    """One setting's widget: shows a value, and calls `changed(value)` when the user finishes editing.

    `refused(text)` hears of a typed value that was outside the allowed range and was not taken."""

    def __init__(self, param: Param, changed: Callable[[Any], None]) -> None:
        self.param = param
        self.changed = changed
        self.refused: Callable[[str], None] = lambda text: None
        self.widget = self._build()
        tip = f"{param.help}\nAllowed: {param.describe_range()}"
        self.widget.setToolTip(tip)

    @abstractmethod
    def _build(self) -> QWidget: ...

    @abstractmethod
    def set_value(self, value: Any) -> None: ...

    def _watch_range(self, box: IntSpinBox | FloatSpinBox) -> None:
        """Say so when a typed number outside the range snaps back to the last value."""
        box.snapped_back = lambda typed: self.refused(
            f"{self.param.label}: {typed} is outside the allowed range ({self.param.describe_range()}); "
            f"it stays {box.textFromValue(box.value())}.")


def _spin_range(param: Param, optional_slot: bool) -> tuple[int, int]:
    lo = -INT_LIMIT if param.minimum is None else max(int(math.ceil(param.minimum)), -INT_LIMIT)
    hi = INT_LIMIT if param.maximum is None else min(int(param.maximum), INT_LIMIT)
    return (lo - 1 if optional_slot else lo), hi


class _IntEditor(_Editor):
    def _build(self) -> QWidget:
        box = IntSpinBox()
        box.setKeyboardTracking(False)
        self._watch_range(box)
        lo, hi = _spin_range(self.param, self.param.optional)
        box.setRange(lo, hi)
        if self.param.optional:
            box.setSpecialValueText("not set")  # shown at the minimum, which stands for None
        box.setGroupSeparatorShown(hi >= 10_000)
        box.valueChanged.connect(self._emit)
        _guard(box)
        self.box = box
        return box

    def _emit(self, value: int) -> None:
        self.changed(None if self.param.optional and value == self.box.minimum() else value)

    def set_value(self, value: Any) -> None:
        target = self.box.minimum() if value is None else int(value)
        if self.box.value() != target:
            self.box.blockSignals(True)
            self.box.setValue(target)
            self.box.blockSignals(False)


class _FloatEditor(_Editor):
    def _build(self) -> QWidget:
        box = FloatSpinBox()
        box.setKeyboardTracking(False)
        self._watch_range(box)
        lo = -1e300 if self.param.minimum is None else float(self.param.minimum)
        hi = 1e300 if self.param.maximum is None else float(self.param.maximum)
        self._none = lo - 1.0 if self.param.optional else None
        box.setRange(self._none if self._none is not None else lo, hi)
        if self.param.optional:
            box.setSpecialValueText("not set")
        box.valueChanged.connect(self._emit)
        _guard(box)
        self.box = box
        return box

    def _emit(self, value: float) -> None:
        self.changed(None if self._none is not None and value == self._none else value)

    def set_value(self, value: Any) -> None:
        target = self._none if value is None else float(value)
        if self.box.value() != target:
            self.box.blockSignals(True)
            self.box.setValue(target)
            self.box.blockSignals(False)


class _BoolEditor(_Editor):
    def _build(self) -> QWidget:
        self.box = QCheckBox()
        self.box.toggled.connect(self.changed)
        return self.box

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class _ChoiceEditor(_Editor):
    def _build(self) -> QWidget:
        self.box = QComboBox()
        self.box.addItems(list(self.param.choices))
        self.box.activated.connect(lambda i: self.changed(self.param.choices[i]))
        _guard(self.box)
        return self.box

    def set_value(self, value: Any) -> None:
        index = self.param.choices.index(value) if value in self.param.choices else -1
        self.box.blockSignals(True)
        self.box.setCurrentIndex(index)
        self.box.blockSignals(False)


class _TextEditor(_Editor):
    def _build(self) -> QWidget:
        self.edit = QLineEdit()
        self.edit.editingFinished.connect(self._emit)
        self._shown = ""
        if not self.param.path:
            return self.edit
        # A file or folder setting: typed, or chosen with a dialog.
        widget = QWidget()
        row = QHBoxLayout(widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.edit, 1)
        browse = QToolButton()
        browse.setText("Browse…")
        browse.setToolTip(f"Choose the {self.param.path}")
        browse.clicked.connect(self._browse)
        row.addWidget(browse)
        return widget

    def _browse(self) -> None:
        start = self.edit.text()
        if self.param.path == "folder":
            chosen = QFileDialog.getExistingDirectory(self.widget, self.param.label, start)
        else:
            chosen = QFileDialog.getOpenFileName(self.widget, self.param.label, start)[0]
        if chosen:
            self.edit.setText(chosen)
            self._emit()

    def _emit(self) -> None:
        if self.edit.text() != self._shown:
            self.changed(self.edit.text())

    def set_value(self, value: Any) -> None:
        self._shown = str(value)
        if self.edit.text() != self._shown:
            self.edit.setText(self._shown)


class _IntsEditor(_Editor):
    """A fixed number of whole numbers (a kernel size, strides): one spin box each."""

    def _build(self) -> QWidget:
        widget = QWidget()
        row = QHBoxLayout(widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        lo, hi = _spin_range(self.param, False)
        self.boxes: list[QSpinBox] = []
        for i in range(self.param.length or 1):
            if i:
                row.addWidget(QLabel("×"))
            box = QSpinBox()
            box.setKeyboardTracking(False)
            box.setRange(lo, hi)
            box.valueChanged.connect(self._emit)
            _guard(box)
            row.addWidget(box, 1)
            self.boxes.append(box)
        return widget

    def _emit(self, _value: int) -> None:
        self.changed(tuple(box.value() for box in self.boxes))

    def set_value(self, value: Any) -> None:
        for box, v in zip(self.boxes, value, strict=False):
            if box.value() != v:
                box.blockSignals(True)
                box.setValue(int(v))
                box.blockSignals(False)


class _IntListEditor(_Editor):
    """Any number of whole numbers (a target shape), typed as '1, 28, 28'."""

    def _build(self) -> QWidget:
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("e.g. 1, 28, 28")
        self.edit.editingFinished.connect(self._emit)
        self._shown = ""
        return self.edit

    def _emit(self) -> None:
        text = self.edit.text()
        if text == self._shown:
            return
        parts = [p for p in text.replace("x", ",").replace(" ", ",").split(",") if p]
        try:
            value: Any = tuple(int(p) for p in parts)
        except ValueError:
            value = text  # the document's validation says what is wrong with it
        self.changed(value)

    def set_value(self, value: Any) -> None:
        self._shown = ", ".join(str(v) for v in value)
        if self.edit.text() != self._shown:
            self.edit.setText(self._shown)


def _editor_for(param: Param, changed: Callable[[Any], None]) -> _Editor:
    if param.kind == "ints":
        return _IntsEditor(param, changed) if param.length else _IntListEditor(param, changed)
    kinds: dict[str, type[_Editor]] = {"int": _IntEditor, "float": _FloatEditor, "bool": _BoolEditor,
                                       "choice": _ChoiceEditor, "str": _TextEditor}
    return kinds[param.kind](param, changed)


class ParamForm(QWidget):
    edited = Signal(str, object)

    def __init__(self, params: ParamSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.params = params
        self._editors: dict[str, _Editor] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        form = self._form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        outer.addLayout(form)
        for param in params:
            editor = _editor_for(param, lambda value, name=param.name: self._edited(name, value))
            editor.refused = lambda text, widget=editor.widget: self._refused(widget, text)
            self._editors[param.name] = editor
            label = QLabel(param.label)
            label.setToolTip(param.help)
            form.addRow(label, editor.widget)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self._range_note = False  # the message shown is a range note, gone with the next edit
        outer.addWidget(self.message)
        if not len(params):
            empty = QLabel("This layer has no settings.")
            empty.setEnabled(False)
            form.addRow(empty)

    def _edited(self, name: str, value: Any) -> None:
        if self._range_note:
            self._range_note = False
            self.show_message(None)
        self.edited.emit(name, value)

    def _refused(self, widget: QWidget, text: str) -> None:
        """A value typed out of range: said under the form and beside the box it was typed in."""
        self.show_message(text)
        self._range_note = True
        QToolTip.showText(widget.mapToGlobal(QPoint(0, widget.height())), text, widget)

    def editor(self, name: str) -> QWidget:
        """The widget editing setting `name` (for focusing it, and for tests)."""
        return self._editors[name].widget

    def set_values(self, values: Mapping[str, Any]) -> None:
        for name, editor in self._editors.items():
            editor.set_value(values.get(name, editor.param.default))
            # Settings that do not apply (an image's height for a vector Input) are hidden, not lost.
            self._form.setRowVisible(editor.widget, editor.param.relevant(values))

    def show_message(self, text: str | None) -> None:
        """A validation message under the form (None hides it)."""
        if not text:
            self.message.hide()
            return
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {theme.error_colour().name()};")
        self.message.show()


def commit_focused_edit() -> None:
    """Finish an edit still being typed: spin boxes and line edits only report it on Enter or on
    losing focus, and toolbar buttons take no focus, so Save would otherwise miss it."""
    focused = QApplication.focusWidget()
    if isinstance(focused, QAbstractSpinBox):
        focused.interpretText()
    elif isinstance(focused, QLineEdit):
        focused.editingFinished.emit()
