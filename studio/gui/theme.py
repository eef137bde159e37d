"""Colours for the canvas and panels, derived from the application palette so light and dark both work.

Only the category accents are fixed hues (as in a legend); everything else is a mix of palette roles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEME_ENV = "MODEL_STUDIO_THEME"  # "light" or "dark" forces a palette (screenshots, testing)

CATEGORY_COLOURS = {
    "Input": "#2f9e62",
    "Core": "#3b7dd8",
    "Convolution": "#e07b24",
    "Pooling": "#159aa6",
    "Normalization": "#8a5cd1",
    "Activation": "#d0457e",
    "Recurrent": "#b3861d",
    "Attention": "#5663e0",
    "Merge": "#6f7f94",
}


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` moved a fraction `t` of the way towards `b`."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        a.alphaF() + (b.alphaF() - a.alphaF()) * t,
    )


def palette() -> QPalette:
    return QGuiApplication.palette()


def is_dark(pal: QPalette | None = None) -> bool:
    pal = pal or palette()
    return pal.color(QPalette.ColorRole.Window).lightness() < 128


def category_colour(category: str, pal: QPalette | None = None) -> QColor:
    colour = QColor(CATEGORY_COLOURS.get(category, "#808080"))
    return colour.lighter(125) if is_dark(pal) else colour


def error_colour(pal: QPalette | None = None) -> QColor:
    return QColor("#ff6b6b") if is_dark(pal) else QColor("#cc3333")


def ok_colour(pal: QPalette | None = None) -> QColor:
    return QColor("#5cc98a") if is_dark(pal) else QColor("#23874f")


@dataclass(frozen=True)
class CanvasTheme:
    background: QColor
    grid: QColor
    node: QColor
    border: QColor
    text: QColor
    muted: QColor
    selection: QColor
    error: QColor
    error_fill: QColor
    edge: QColor
    edge_hover: QColor
    port: QColor
    dark: bool

    @classmethod
    def from_palette(cls, pal: QPalette | None = None) -> CanvasTheme:
        pal = pal or palette()
        role = QPalette.ColorRole
        base, text, window = pal.color(role.Base), pal.color(role.Text), pal.color(role.Window)
        dark = is_dark(pal)
        error = error_colour(pal)
        background = mix(window, base, 0.5) if not dark else mix(window, QColor("black"), 0.25)
        node = base if not dark else mix(window, text, 0.07)
        return cls(
            background=background,
            grid=mix(background, text, 0.16),
            node=node,
            border=mix(node, text, 0.28),
            text=text,
            muted=mix(text, node, 0.42),
            selection=pal.color(role.Highlight),
            error=error,
            error_fill=mix(node, error, 0.14),
            edge=mix(text, background, 0.45),
            edge_hover=pal.color(role.Highlight),
            port=node,
            dark=dark,
        )


def dark_palette() -> QPalette:
    """A dark palette for Fusion, for platforms whose style does not switch by itself."""
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    pal = QPalette()
    colours = {
        role.Window: "#2b2d31", role.WindowText: "#e6e6e6", role.Base: "#1f2023",
        role.AlternateBase: "#2a2c30", role.ToolTipBase: "#3a3d42", role.ToolTipText: "#f0f0f0",
        role.Text: "#e6e6e6", role.Button: "#34363b", role.ButtonText: "#e6e6e6", role.BrightText: "#ff6b6b",
        role.Highlight: "#3d8ee8", role.HighlightedText: "#ffffff", role.Link: "#6fb0ff",
        role.PlaceholderText: "#8a8d93", role.Light: "#45484e", role.Midlight: "#3a3d42",
        role.Mid: "#2e3034", role.Dark: "#1a1b1e", role.Shadow: "#0d0d0f",
    }
    for r, value in colours.items():
        pal.setColor(r, QColor(value))
    for r in (role.Text, role.WindowText, role.ButtonText):
        pal.setColor(group.Disabled, r, QColor("#7b7e84"))
    return pal


_forced_dark = False  # the dark palette is ours (not the platform's), so ours to take back


def apply_theme(app: QApplication, wanted: str | None = None) -> None:
    """Fusion everywhere (consistent on every platform); dark when the system, `wanted` or THEME_ENV
    asks for it. Called again when the system switches between light and dark."""
    global _forced_dark
    app.setStyle("Fusion")
    wanted = (wanted or os.environ.get(THEME_ENV, "")).lower()
    system_dark = app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    if wanted == "dark" or (wanted != "light" and system_dark):
        if not is_dark(app.palette()):
            app.setPalette(dark_palette())
            _forced_dark = True
    elif is_dark(app.palette()) and (wanted == "light" or _forced_dark):
        app.setPalette(app.style().standardPalette())
        _forced_dark = False
