"""SVG icons from resources/icons, drawn in a palette colour so they suit light and dark themes.

The files use `currentColor`; each icon is rendered on demand at the size asked for, so it is crisp at
any scale.
"""

from __future__ import annotations

import math
from functools import cache

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from studio.gui import theme
from studio.paths import data_dir

RESOURCES = data_dir("resources")
ICON_DIR = RESOURCES / "icons"


@cache
def _svg_text(name: str) -> str:
    return (ICON_DIR / f"{name}.svg").read_text(encoding="utf-8")


class _SvgEngine(QIconEngine):
    def __init__(self, name: str, colour: QColor | None) -> None:
        super().__init__()
        self._name = name
        self._colour = colour
        self._renderers: dict[str, QSvgRenderer] = {}
        self._pixmaps: dict[tuple[int, int, int, str], QPixmap] = {}

    def _colour_name(self, mode: QIcon.Mode) -> str:
        pal = theme.palette()
        if mode == QIcon.Mode.Disabled:
            return pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()
        return (self._colour or pal.color(QPalette.ColorRole.WindowText)).name()

    def _renderer(self, mode: QIcon.Mode) -> QSvgRenderer:
        key = self._colour_name(mode)
        if key not in self._renderers:
            svg = _svg_text(self._name).replace("currentColor", key)
            self._renderers[key] = QSvgRenderer(QByteArray(svg.encode("utf-8")))
        return self._renderers[key]

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        # Drawn from a cached picture at twice the size (crisp when zoomed): rendering the SVG itself
        # for every canvas node on every repaint showed up in profiles.
        wanted = max(painter.worldTransform().m11(), 1.0) * painter.device().devicePixelRatioF() * 2
        scale = 2 ** math.ceil(math.log2(wanted))  # a few sizes only, however the canvas is zoomed
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(rect, self.pixmap(rect.size() * scale, mode, state))
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        key = (size.width(), size.height(), int(mode.value), self._colour_name(mode))
        cached = self._pixmaps.get(key)
        if cached is None:
            cached = QPixmap(size)
            cached.fill(Qt.GlobalColor.transparent)
            painter = QPainter(cached)
            self._renderer(mode).render(painter, QRect(QPoint(0, 0), size))
            painter.end()
            self._pixmaps[key] = cached
        return cached

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float) -> QPixmap:
        pixmap = self.pixmap(size * scale, mode, state)
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def clone(self) -> QIconEngine:
        return _SvgEngine(self._name, self._colour)


_cache: dict[tuple[str, str], QIcon] = {}


def icon(name: str, colour: QColor | None = None) -> QIcon:
    """The icon `name` (a file in resources/icons), in `colour` or the palette's text colour."""
    key = (name, colour.name() if colour else "")
    if key not in _cache:
        _cache[key] = QIcon(_SvgEngine(name, colour))
    return _cache[key]


def category_icon(category: str) -> QIcon:
    return icon(category.lower(), theme.category_colour(category))


def app_icon() -> QIcon:
    return QIcon(str(ICON_DIR / "app.svg"))


def clear_cache() -> None:
    """Forget rendered icons, after the palette changed."""
    _cache.clear()
