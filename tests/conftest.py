"""Settings shared by every test: Qt (where a test uses it) draws off screen, and the caches the studio
keeps (decoded image folders, the precision self-check) go to a folder of the test session's own, never
the user's."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_caches = tempfile.mkdtemp(prefix="model-studio-test-caches-")
atexit.register(shutil.rmtree, _caches, ignore_errors=True)
os.environ["XDG_CACHE_HOME"] = _caches
os.environ["MODEL_STUDIO_CACHE"] = os.path.join(_caches, "model-studio", "data")
