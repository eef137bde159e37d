"""The main window: palette, canvas, inspector, summary and problems around one Document."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QEvent, QMimeData, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QTabWidget,
    QToolBar,
    QWidget,
)

from studio.core.graph import ModelGraph
from studio.core.project import SUFFIX
from studio.gui import clipboard, commands, icons, theme
from studio.gui.actions import Shortcut, make_action
from studio.gui.analysis.results_dock import ResultsPanel
from studio.gui.canvas.node_item import NodeItem
from studio.gui.canvas.scene import GraphScene
from studio.gui.canvas.view import GraphView
from studio.gui.device import DeviceProbe, describe
from studio.gui.document import Document
from studio.gui.files import ProjectFiles
from studio.gui.inspector import Inspector
from studio.gui.interop_actions import InteropActions
from studio.gui.palette import LayerPalette
from studio.gui.param_form import commit_focused_edit
from studio.gui.problems_panel import ProblemsPanel
from studio.gui.summary_panel import SummaryPanel
from studio.gui.theme import CanvasTheme
from studio.gui.training.session import TrainingSession

APP_NAME = "Model Studio"
PASTE_STEP = 40.0
STATUS_MS = 6000
RESULTS_SHARE = 0.5  # of the window's height, for the Results dock's plots


class MainWindow(QMainWindow):
    def __init__(self, *, probe_device: bool = True) -> None:
        super().__init__()
        self._device_choices: list[tuple[str, str]] = []  # filled in once torch has been imported
        self._training_busy = False  # a run trains the project: its file must stay where it is
        self.setObjectName("MainWindow")
        self.setWindowIcon(icons.app_icon())
        self.doc = Document(parent=self)
        self.scene = GraphScene(self.doc)
        self.view = GraphView(self.scene)
        self.setCentralWidget(self.view)
        self.files = ProjectFiles(self.doc, self)
        self.palette_panel = LayerPalette()
        self.inspector = Inspector(self.doc)
        self.summary = SummaryPanel(self.doc)
        self.problems = ProblemsPanel(self.doc)
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.setDocumentMode(True)
        self.bottom_tabs.addTab(self.summary, icons.icon("layers"), "Summary")
        self.bottom_tabs.addTab(self.problems, icons.icon("error"), "Problems")
        self.palette_dock = self._dock("Layers", "PaletteDock", self.palette_panel,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "InspectorDock", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.bottom_dock = self._dock("Summary and Problems", "BottomDock", self.bottom_tabs,
                                      Qt.DockWidgetArea.BottomDockWidgetArea)
        self.results = ResultsPanel(self.doc)
        self.results_dock = self._dock("Results", "ResultsDock", self.results,
                                       Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.bottom_dock, self.results_dock)
        self.training = TrainingSession(self.doc, save=self.save, display_name=self.files.display_name,
                                        parent=self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.training.dock)
        self.tabifyDockWidget(self.bottom_dock, self.training.dock)
        self.bottom_dock.raise_()  # the summary stays in front until a run starts
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self._connect()
        self.setAcceptDrops(True)
        self._default_size()
        self.resizeDocks([self.palette_dock, self.inspector_dock], [200, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.bottom_dock], [220], Qt.Orientation.Vertical)
        self._restore_window()
        self.device_probe = DeviceProbe(self)
        self.device_probe.found.connect(self.set_devices)
        self._probe_device = probe_device
        self._refresh_status()
        self._refresh_title()
        self._selection_changed()

    # --- construction -----------------------------------------------------------------------------------

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot: Callable[[], object], shortcut: Shortcut | None = None,
                icon: str | None = None, tip: str = "") -> QAction:
        action = make_action(self, text, slot, shortcut, icon, tip)
        self.addAction(action)  # shortcuts work whichever dock has focus
        return action

    def _make_actions(self) -> None:
        key = QKeySequence.StandardKey
        f = self.files
        self.new_action = self._action("&New…", f.new, key.New, "new", "New project from an example or empty")
        self.open_action = self._action("&Open…", f.open, key.Open, "open", "Open a project file")
        self.save_action = self._action("&Save", self.save, key.Save, "save", "Save the project")
        self.save_as_action = self._action("Save &As…", self.save_as, "Shift+Ctrl+S", "save-as",
                                           "Save the project under a new name")
        self.quit_action = self._action("&Quit", self.close, key.Quit)
        stack = self.doc.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.keyBindings(key.Undo))
        self.undo_action.setIcon(icons.icon("undo"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(icons.icon("redo"))
        # Undo and redo go through the document, which refuses them while a run trains the model.
        for action, slot in ((self.undo_action, self.doc.undo), (self.redo_action, self.doc.redo)):
            action.triggered.disconnect()
            action.triggered.connect(lambda _checked=False, s=slot: s())
        self.addActions([self.undo_action, self.redo_action])
        self.cut_action = self._action("Cu&t", self.cut, key.Cut, "cut", "Cut the selected layers")
        self.copy_action = self._action("&Copy", self.copy, key.Copy, "copy", "Copy the selected layers")
        self.paste_action = self._action("&Paste", self.paste, key.Paste, "paste", "Paste layers")
        self.duplicate_action = self._action("&Duplicate", self.duplicate, "Ctrl+D", "duplicate",
                                             "Duplicate the selected layers")
        self.delete_action = self._action("De&lete", self.delete, [QKeySequence(key.Delete), "Backspace"],
                                          "delete", "Delete the selected layers and connections")
        self.select_all_action = self._action("Select &All", self.scene.select_all, key.SelectAll)
        self.fit_action = self._action("&Fit to View", self.view.fit, "Ctrl+0", "fit", "Show the whole model")
        self.zoom_in_action = self._action("Zoom &In", self.view.zoom_in, key.ZoomIn, "zoom-in")
        self.zoom_out_action = self._action("Zoom &Out", self.view.zoom_out, key.ZoomOut, "zoom-out")
        self.layout_action = self._action("Auto &Layout", self.auto_layout, "Ctrl+L", "layout",
                                          "Arrange the layers left to right")
        self.results_action = self._action("Show &Results", self.show_results, "Ctrl+Shift+R", "results",
                                           "Look inside the trained model: evaluation, predictions, clusters")
        self.addActions(self.training.actions)  # as for the window's own: keys work in every dock
        for action in (self.cut_action, self.copy_action, self.paste_action, self.duplicate_action,
                       self.delete_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = QMenu("Open &Recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.interop = InteropActions(self.doc, self.files, self)
        self.interop.add_to(file_menu, before=self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        edit.addActions([self.cut_action, self.copy_action, self.paste_action, self.duplicate_action,
                         self.delete_action])
        edit.addSeparator()
        edit.addAction(self.select_all_action)
        view = bar.addMenu("&View")
        view.addActions([self.fit_action, self.zoom_in_action, self.zoom_out_action])
        view.addSeparator()
        view.addAction(self.layout_action)
        view.addSeparator()
        self.view_menu = view
        bar.addMenu("&Run").addActions(self.training.actions)
        self._rebuild_recent()
        # The canvas' context menu offers the same edits.
        separator = QAction(self)
        separator.setSeparator(True)
        self.view.addActions([self.cut_action, self.copy_action, self.paste_action, self.duplicate_action,
                              self.delete_action, separator, self.select_all_action, self.layout_action,
                              self.fit_action])

    def _make_toolbar(self) -> None:
        bar = QToolBar("Toolbar", self)
        bar.setObjectName("MainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        bar.setIconSize(bar.iconSize().scaled(20, 20, Qt.AspectRatioMode.KeepAspectRatio))
        for group in ((self.new_action, self.open_action, self.save_action),
                      (self.undo_action, self.redo_action),
                      (self.duplicate_action, self.delete_action),
                      (self.layout_action, self.fit_action, self.zoom_in_action, self.zoom_out_action),
                      (self.results_action,)):
            bar.addActions(list(group))
            bar.addSeparator()
        bar.addActions(self.training.actions)
        bar.addWidget(self.training.device_picker)
        self.addToolBar(bar)
        self.toolbar = bar
        for widget in (bar, self.palette_dock, self.inspector_dock, self.bottom_dock, self.results_dock,
                       self.training.dock):
            self.view_menu.addAction(widget.toggleViewAction())

    def _make_status_bar(self) -> None:
        status = self.statusBar()
        # An error message's colour goes when the message does.
        status.messageChanged.connect(lambda text: None if text else status.setStyleSheet(""))
        self.validity_label = QLabel()
        self.params_label = QLabel()
        self.device_label = QLabel("Device: …")
        self.device_label.setToolTip("Where training would run with the project's device setting")
        for label in (self.validity_label, self.params_label, self.device_label):
            label.setContentsMargins(8, 0, 8, 0)
            status.addPermanentWidget(label)
        status.addPermanentWidget(self.training.status_widget)

    def _connect(self) -> None:
        doc = self.doc
        doc.changed.connect(self._refresh_status)
        doc.changed.connect(self._refresh_actions)
        doc.replaced.connect(lambda: QTimer.singleShot(0, self.view.show_model))
        doc.refused.connect(lambda message: self.show_message(message, error=True))
        doc.undo_stack.cleanChanged.connect(self._refresh_title)
        self.files.path_changed.connect(self._refresh_title)
        self.files.recent_changed.connect(self._rebuild_recent)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.palette_panel.activated.connect(self.append_layer)
        self.summary.node_clicked.connect(self.focus_node)
        self.problems.node_clicked.connect(self.focus_node)
        self.problems.count_changed.connect(self._problem_count)
        QApplication.clipboard().dataChanged.connect(self._refresh_actions)
        training = self.training
        training.busy_changed.connect(self._hold_file)
        training.activity_changed.connect(self._refresh_title)
        training.message.connect(lambda text, error: self.show_message(text, error=error))
        training.problems_wanted.connect(self.show_problems)
        training.panel_wanted.connect(lambda share: self._bring_forward(training.dock, share))

    # --- state shown around the canvas ------------------------------------------------------------------

    def show_message(self, text: str, *, error: bool = False) -> None:
        """A transient message in the status bar; refusals are shown in the error colour."""
        status = self.statusBar()
        status.setStyleSheet(f"QStatusBar {{ color: {theme.error_colour().name()}; }}" if error else "")
        status.showMessage(text, STATUS_MS)

    def _refresh_title(self) -> None:
        activity = f" — {self.training.activity}" if self.training.activity else ""
        self.setWindowTitle(f"{self.files.display_name()}[*]{activity} — {APP_NAME}")
        self.setWindowModified(self.doc.modified)

    def _refresh_status(self) -> None:
        analysis = self.doc.analysis
        total = sum(info.params + info.buffers for info in analysis.nodes.values())
        self.params_label.setText(f"{total:,} parameters")
        problems = len(analysis.problems)
        if problems:
            self.validity_label.setText(f"⚠ {problems} problem{'s' if problems > 1 else ''}")
            self.validity_label.setToolTip("\n".join(p.message for p in analysis.problems))
        else:
            self.validity_label.setText("✓ Valid model")
            self.validity_label.setToolTip("The model is complete and every shape fits.")
        colour = theme.error_colour() if problems else theme.ok_colour()
        self.validity_label.setStyleSheet(f"color: {colour.name()}; font-weight: bold;")
        if self._device_choices:
            setting = str(self.doc.project.training.get("device", "auto"))
            self.device_label.setText(f"Device: {describe(self._device_choices, setting)}")

    def set_devices(self, choices: list) -> None:
        self._device_choices = [tuple(c) for c in choices]
        self._refresh_status()
        self.training.set_devices(self._device_choices)

    def _problem_count(self, count: int) -> None:
        index = self.bottom_tabs.indexOf(self.problems)
        self.bottom_tabs.setTabText(index, f"Problems ({count})" if count else "Problems")

    def _selection_changed(self) -> None:
        if not shiboken6.isValid(self.scene):
            return  # the scene empties itself while being destroyed, and says so
        ids = self.scene.selected_node_ids()
        self.inspector.show_selection(ids)
        self._refresh_actions()

    def _refresh_actions(self) -> None:
        has_nodes = bool(self.scene.selected_node_ids())
        for action in (self.cut_action, self.copy_action, self.duplicate_action):
            action.setEnabled(has_nodes)
        self.delete_action.setEnabled(has_nodes or bool(self.scene.selected_edges()))
        mime = QApplication.clipboard().mimeData()
        pastable = mime is not None and (mime.hasFormat(clipboard.MIME_TYPE) or mime.hasText())
        self.paste_action.setEnabled(pastable)

    def _hold_file(self, busy: bool) -> None:
        """New, Open, Open Recent and Save As wait while a run trains: they would move its file away."""
        self._training_busy = busy
        for action in (self.new_action, self.open_action, self.save_as_action):
            action.setEnabled(not busy)
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        files = self.files.recent_files()
        for i, path in enumerate(files):
            action = self.recent_menu.addAction(f"&{i + 1}  {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.files.open(p))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Files", self.files.clear_recent)
        self.recent_menu.setEnabled(bool(files) and not self._training_busy)

    # --- editing ----------------------------------------------------------------------------------------

    def append_layer(self, type_name: str) -> None:
        node_id = self.scene.append_layer(type_name, self.view.viewport_centre())
        if node_id:
            self.view.centre_on_node(node_id)

    def focus_node(self, node_id: str) -> None:
        self.scene.select_nodes([node_id])
        self.view.centre_on_node(node_id)

    def copy(self) -> int:
        count = clipboard.copy_to_clipboard(self.doc.graph, self.scene.selected_node_ids())
        if count:
            self.show_message(f"Copied {count} layer{'s' if count > 1 else ''}")
        return count

    def cut(self) -> None:
        if self.copy():
            self.delete()

    def paste(self) -> list[str]:
        fragment = clipboard.fragment_from_clipboard()
        if fragment is None:
            self.show_message("The clipboard holds no layers to paste")
            return []
        return self._paste(fragment)

    def duplicate(self) -> list[str]:
        ids = self.scene.selected_node_ids()
        if not ids:
            return []
        return self._paste(ModelGraph.from_dict(clipboard.fragment(self.doc.graph, ids)))

    def _paste(self, fragment: ModelGraph) -> list[str]:
        # Step down-right until the copies land on free spots, so repeated pastes fan out.
        taken = {n.pos for n in self.doc.graph.nodes.values()}
        step = 1
        while any((n.pos[0] + step * PASTE_STEP, n.pos[1] + step * PASTE_STEP) in taken
                  for n in fragment.nodes.values()):
            step += 1
        new_ids = commands.paste(self.doc, fragment, (step * PASTE_STEP, step * PASTE_STEP))
        self.scene.select_nodes(new_ids)
        return new_ids

    def delete(self) -> None:
        commands.delete(self.doc, self.scene.selected_node_ids(), self.scene.selected_edges())

    def auto_layout(self) -> None:
        if commands.layout(self.doc):
            self.view.fit()

    def show_results(self) -> None:
        """Bring the Results dock forward, tall enough for its plots."""
        self._bring_forward(self.results_dock, RESULTS_SHARE)

    def show_problems(self) -> None:
        """Bring the Problems tab forward."""
        self.bottom_dock.show()
        self.bottom_dock.raise_()
        self.bottom_tabs.setCurrentWidget(self.problems)

    def _bring_forward(self, dock: QDockWidget, share: float) -> None:
        """Show `dock` in front of its tabs, at least `share` of the window's height tall."""
        dock.show()
        dock.raise_()
        self.resizeDocks([dock], [max(dock.height(), int(self.height() * share))], Qt.Orientation.Vertical)

    def save(self) -> bool:
        commit_focused_edit()
        return self.files.save()

    def save_as(self) -> bool:
        commit_focused_edit()
        return self.files.save_as()

    # --- window life ------------------------------------------------------------------------------------

    def start(self, path: str | None) -> None:
        """Show `path`, or the default example; then offer unsaved work from a crashed session."""
        from studio.gui.files import DEFAULT_EXAMPLE, EXAMPLES_DIR

        if path is None or not self.files.load(path):
            default = EXAMPLES_DIR / f"{DEFAULT_EXAMPLE}{SUFFIX}"
            self.files.show_template(default if default.is_file() else None)

    def after_shown(self) -> None:
        """Work that waits until the window is on screen."""
        self.view.show_model()
        self.files.offer_recovery()
        if self._probe_device:
            self.device_probe.start()
            self.training.keep_warm()

    def _default_size(self) -> None:
        """Most of the screen on a first start: a model needs room (later starts restore the last size)."""
        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen else None
        width = min(int(area.width() * 0.9), 1680) if area else 1440
        height = min(int(area.height() * 0.9), 1050) if area else 900
        self.resize(max(width, 1024), max(height, 700))

    def _restore_window(self) -> None:
        settings = QSettings()
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.value("window/state")
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        commit_focused_edit()
        if not self.training.confirm_close():  # asks, then stops the run and waits for its thread
            event.ignore()
            return
        if not self.files.maybe_save():
            event.ignore()
            return
        self.files.discard_recovery()
        self.results.shutdown()
        self.training.shutdown()
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        self.files.autosave_timer.stop()
        event.accept()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        icons.clear_cache()
        NodeItem.fonts = None
        self.scene.set_colours(CanvasTheme.from_palette())
        self.palette_panel.refresh_icons()
        self.view.viewport().update()

    # --- opening files dropped on the window ------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_project(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_project(event.mimeData())
        if path:
            event.acceptProposedAction()
            # After the drop returns, so a question box does not block the drag source.
            QTimer.singleShot(0, lambda: self.files.open(path))


def _dropped_project(mime: QMimeData) -> str | None:
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and url.toLocalFile().endswith(SUFFIX):
            return url.toLocalFile()
    return None
