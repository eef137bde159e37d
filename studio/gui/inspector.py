"""The inspector: settings of the selected layer, or of the project when nothing is selected.

Every change the user makes becomes one command; what the rules refuse is shown under the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.layers import get_spec
from studio.core.params import ParamSet, ParamValueError
from studio.core.summary import format_count
from studio.core.training_settings import TRAINING_PARAMS
from studio.gui import commands, icons, theme
from studio.gui.document import Document
from studio.gui.param_form import ParamForm


class PageSwitch(QWidget):
    """Shows one of its pages at a time and is exactly as tall as that page.

    (A QStackedWidget is as tall as its tallest page, which leaves a scroll bar under short ones.)
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._current: QWidget | None = None

    def addWidget(self, page: QWidget) -> None:
        page.hide()
        self._layout.addWidget(page)

    def currentWidget(self) -> QWidget | None:
        return self._current

    def setCurrentWidget(self, page: QWidget) -> None:
        if page is self._current:
            return
        if self._current is not None:
            self._current.hide()
        self._current = page
        page.show()


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.1)
    label.setFont(font)
    label.setContentsMargins(0, 8, 0, 2)
    return label


def _note(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    pal = label.palette()
    pal.setColor(label.foregroundRole(), theme.mix(pal.color(label.foregroundRole()),
                                                   pal.color(label.backgroundRole()), 0.35))
    label.setPalette(pal)
    return label


def _error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(f"color: {theme.error_colour().name()};")
    label.hide()
    return label


def _show(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


class _Refusals:
    """Remembers the document's last refusal, so the widget that caused it can show it in place."""

    def __init__(self, doc: Document) -> None:
        self.last = ""
        doc.refused.connect(self._store)

    def _store(self, message: str) -> None:
        self.last = message


class _CommittingTextEdit(QPlainTextEdit):
    """A multi-line text field that reports its text once, when the user leaves it."""

    committed = Signal(str)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.committed.emit(self.toPlainText())


class NodePage(QWidget):
    def __init__(self, doc: Document, refusals: _Refusals) -> None:
        super().__init__()
        self.doc, self.refusals = doc, refusals
        self.node_id: str | None = None
        layout = QVBoxLayout(self)
        header = QHBoxLayout()
        self.icon = QLabel()
        self.title = _heading("")
        header.addWidget(self.icon)
        header.addWidget(self.title, 1)
        layout.addLayout(header)
        self.help = _note()
        layout.addWidget(self.help)

        info = QFormLayout()
        info.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.name = QLineEdit()
        self.name.setToolTip("The layer's name: letters, digits and '_', unique in the model.")
        self.name.editingFinished.connect(self._rename)
        self.name_error = _error_label()
        self.shape = QLabel()
        self.shape.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.params = QLabel()
        info.addRow("Name", self.name)
        info.addRow("", self.name_error)
        info.addRow("Output", self.shape)
        info.addRow("Parameters", self.params)
        layout.addLayout(info)
        self.problem = _error_label()
        layout.addWidget(self.problem)

        layout.addWidget(_heading("Settings"))
        self.forms = PageSwitch()
        self._forms: dict[str, ParamForm] = {}
        layout.addWidget(self.forms)
        layout.addStretch(1)

    def form(self, type_name: str) -> ParamForm:
        """The settings form for a layer type (built once, reused for every layer of that type)."""
        if type_name not in self._forms:
            form = ParamForm(get_spec(type_name).params)
            form.edited.connect(self._edited)
            self._forms[type_name] = form
            self.forms.addWidget(form)
        return self._forms[type_name]

    def show_node(self, node_id: str) -> None:
        if node_id != self.node_id:
            self.name_error.hide()
            for form in self._forms.values():
                form.show_message(None)
        self.node_id = node_id
        self.refresh()

    def refresh(self) -> None:
        node = self.doc.graph.nodes.get(self.node_id or "")
        if node is None:
            return
        spec = get_spec(node.type)
        self.icon.setPixmap(icons.category_icon(spec.category).pixmap(22, 22))
        self.title.setText(f"{node.type}  <span style='font-weight:normal'>· {spec.category}</span>")
        self.help.setText(spec.help)
        if not self.name.hasFocus() or self.name.text() == node.name:
            self.name.setText(node.name)
        info = self.doc.analysis.nodes.get(node.id)
        if info is not None:
            self.shape.setText(str(info.shape) if info.shape else "unknown (see the problem below)")
            count = info.params + info.buffers
            extra = f" ({format_count(count)})" if count >= 1000 else ""
            frozen = f", {info.buffers:,} not trainable" if info.buffers else ""
            self.params.setText(f"{count:,}{extra}{frozen}")
        _show(self.problem, "\n".join(self.doc.analysis.problems_of(node.id)))
        form = self.form(node.type)
        self.forms.setCurrentWidget(form)
        form.set_values(node.params)

    def _rename(self) -> None:
        if self.node_id is None or self.node_id not in self.doc.graph.nodes:
            return
        name = self.name.text().strip()
        if name == self.doc.graph.nodes[self.node_id].name:
            self.name_error.hide()
            return
        if commands.rename(self.doc, self.node_id, name):
            self.name_error.hide()
        else:
            _show(self.name_error, self.refusals.last)
            self.name.setText(self.doc.graph.nodes[self.node_id].name)

    def _edited(self, key: str, value: Any) -> None:
        if self.node_id is None:
            return
        form = self.form(self.doc.graph.nodes[self.node_id].type)
        if commands.set_params(self.doc, self.node_id, {key: value}) or \
                self.doc.graph.nodes[self.node_id].params.get(key) == value:
            form.show_message(None)
        else:
            form.show_message(self.refusals.last)
            form.set_values(self.doc.graph.nodes[self.node_id].params)


class ProjectPage(QWidget):
    def __init__(self, doc: Document, refusals: _Refusals) -> None:
        super().__init__()
        self.doc, self.refusals = doc, refusals
        layout = QVBoxLayout(self)
        layout.addWidget(_heading("Project"))
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.name = QLineEdit()
        self.name.editingFinished.connect(
            lambda: commands.set_field(self.doc, "name", self.name.text(), "Rename project"))
        self.description = _CommittingTextEdit()
        self.description.setPlaceholderText("What this model is for, the data it expects, …")
        self.description.setFixedHeight(self.description.fontMetrics().lineSpacing() * 5)
        self.description.committed.connect(
            lambda text: commands.set_field(self.doc, "description", text, "Edit description"))
        form.addRow("Name", self.name)
        form.addRow("Description", self.description)
        layout.addLayout(form)

        layout.addWidget(_heading("Dataset"))
        self.dataset = QComboBox()
        self.dataset.activated.connect(self._dataset_chosen)
        layout.addWidget(self.dataset)
        self.dataset_note = _note()
        layout.addWidget(self.dataset_note)
        self.dataset_forms = PageSwitch()
        self._dataset_forms: dict[str, ParamForm] = {}
        layout.addWidget(self.dataset_forms)
        self._fill_datasets()

        layout.addWidget(_heading("Training"))
        self.training = ParamForm(TRAINING_PARAMS)
        self.training.edited.connect(self._training_edited)
        layout.addWidget(self.training)
        layout.addStretch(1)

    def _fill_datasets(self) -> None:
        from studio.data import all_dataset_specs

        self._specs = {spec.name: spec for spec in all_dataset_specs()}
        category = None
        for spec in self._specs.values():
            if category is not None and spec.category != category:
                self.dataset.insertSeparator(self.dataset.count())
            category = spec.category
            self.dataset.addItem(f"{spec.title}", spec.name)
            self.dataset.setItemData(self.dataset.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)

    def dataset_form(self, name: str) -> ParamForm | None:
        spec = self._specs.get(name)
        if spec is None:
            return None
        if name not in self._dataset_forms:
            form = ParamForm(spec.settings)
            form.edited.connect(self._dataset_edited)
            self._dataset_forms[name] = form
            self.dataset_forms.addWidget(form)
        return self._dataset_forms[name]

    def refresh(self) -> None:
        project = self.doc.project
        if not self.name.hasFocus():
            self.name.setText(project.name)
        if not self.description.hasFocus() and self.description.toPlainText() != project.description:
            self.description.setPlainText(project.description)
        name = project.dataset.get("name", "")
        index = self.dataset.findData(name)
        if index < 0:  # a dataset this installation does not know: keep it, but say so
            self.dataset.addItem(f"{name} (not available)", name)
            index = self.dataset.count() - 1
        self.dataset.setCurrentIndex(index)
        form = self.dataset_form(name)
        spec = self._specs.get(name)
        self.dataset_note.setText(spec.description if spec else
                                  f"The dataset '{name}' is not part of this installation.")
        self.dataset_forms.setVisible(form is not None)
        if form is not None:
            self.dataset_forms.setCurrentWidget(form)
            settings = project.dataset.get("settings", {})
            values, problem = _validated(form.params, settings)
            form.set_values(values)
            form.show_message(problem)
        self.training.set_values(project.training)

    def _dataset_chosen(self, index: int) -> None:
        name = self.dataset.itemData(index)
        if name and name != self.doc.project.dataset.get("name"):
            commands.set_field(self.doc, "dataset", {"name": name, "settings": {}}, f"Use dataset {name}")

    def _dataset_edited(self, key: str, value: Any) -> None:
        dataset = self.doc.project.dataset
        form = self.dataset_form(dataset["name"])
        settings = {**dataset.get("settings", {}), key: value}
        _, problem = _validated(form.params, settings) if form else (None, None)
        if problem and form is not None:
            form.show_message(problem)
            return
        spec_param = form.params[key] if form else None
        stored = spec_param.to_json(value) if spec_param else value
        commands.set_field(self.doc, "dataset", {"name": dataset["name"],
                                                 "settings": {**dataset.get("settings", {}), key: stored}},
                           f"Set dataset {key}")

    def _training_edited(self, key: str, value: Any) -> None:
        if commands.set_field(self.doc, "training", {**self.doc.project.training, key: value},
                              f"Set training {key}") or self.doc.project.training.get(key) == value:
            self.training.show_message(None)
        else:
            self.training.show_message(self.refusals.last)
            self.training.set_values(self.doc.project.training)


def _validated(params: ParamSet, settings: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    try:
        return params.validate(settings), None
    except ParamValueError as exc:
        return params.defaults(), f"Setting {exc}"


class Inspector(QScrollArea):
    """Shows the page for the current selection and keeps it in step with the document."""

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        refusals = _Refusals(doc)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.pages = PageSwitch()
        self.project_page = ProjectPage(doc, refusals)
        self.node_page = NodePage(doc, refusals)
        self.many_page = QWidget()
        many = QVBoxLayout(self.many_page)
        self.many_label = _heading("")
        many.addWidget(self.many_label)
        many.addWidget(_note("Drag any of them to move them together. Ctrl+C copies them with the "
                             "connections between them, Ctrl+D duplicates, Del deletes."))
        many.addStretch(1)
        for page in (self.project_page, self.node_page, self.many_page):
            self.pages.addWidget(page)
        self.setWidget(self.pages)
        self._selection: list[str] = []
        doc.changed.connect(self.refresh)
        self.refresh()

    def show_selection(self, node_ids: list[str]) -> None:
        self._selection = list(node_ids)
        self.refresh()

    def refresh(self) -> None:
        selection = [nid for nid in self._selection if nid in self.doc.graph.nodes]
        if len(selection) == 1:
            self.node_page.show_node(selection[0])
            self.pages.setCurrentWidget(self.node_page)
        elif selection:
            self.many_label.setText(f"{len(selection)} layers selected")
            self.pages.setCurrentWidget(self.many_page)
        else:
            self.project_page.refresh()
            self.pages.setCurrentWidget(self.project_page)
