"""Settings shared by every test: Qt (where a test uses it) draws off screen."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
