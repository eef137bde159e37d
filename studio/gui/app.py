"""Starting the studio window: `run(path)` is what `model-studio [FILE]` calls."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from studio.gui import icons, theme
from studio.gui.main_window import APP_NAME, MainWindow

ORGANIZATION = "ModelStudio"
# Set to make the window print "shown <seconds since start>" once it is on screen, and quit
# (the start-up benchmark launches the real app this way).
EXIT_WHEN_SHOWN_ENV = "MODEL_STUDIO_EXIT_WHEN_SHOWN"
_started = time.perf_counter()


def application() -> QApplication:
    """The QApplication, created and themed on first use."""
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APP_NAME)
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        theme.apply_theme(app)
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: theme.apply_theme(app))
        app.setWindowIcon(icons.app_icon())
    return app  # type: ignore[return-value]


def run(path: str | None = None) -> int:
    """Open the studio window (on `path`, else the default example) and run until it is closed."""
    app = application()
    window = MainWindow()
    window.start(path)
    window.show()
    if os.environ.get(EXIT_WHEN_SHOWN_ENV):
        def report() -> None:
            print(f"shown {time.perf_counter() - _started:.3f}", flush=True)
            window.files.autosave_timer.stop()
            app.quit()

        QTimer.singleShot(0, report)
    else:
        QTimer.singleShot(0, window.after_shown)
    return app.exec()
