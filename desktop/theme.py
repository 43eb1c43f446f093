"""The dark theme usual in medical viewers: dark neutral greys (no colour cast on images),
one blue accent, amber for the research-use banner, and per-verdict badge colours."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#1b1d21"
PANEL = "#23262b"
BASE = "#15171a"
TEXT = "#dfe2e7"
MUTED = "#9aa1ab"
ACCENT = "#3d8fe0"
BORDER = "#343841"
BANNER_BG = "#3b2f0b"
BANNER_TEXT = "#f3c94b"
NORMAL_COLOUR = "#3fb37f"  # verdict "normal"
ANOMALY_COLOUR = "#f0883e"  # any anomaly class
PENDING_COLOUR = "#6b7280"
FAILED_COLOUR = "#d9534f"

_STYLESHEET = f"""
QMainWindow, QDialog {{ background: {BACKGROUND}; }}
QDockWidget {{ color: {TEXT}; font-weight: 600; }}
QDockWidget::title {{ background: {PANEL}; padding: 5px 8px; border-bottom: 1px solid {BORDER}; }}
QLabel#researchBanner {{
    background: {BANNER_BG}; color: {BANNER_TEXT}; font-weight: 700; padding: 4px;
    border-bottom: 1px solid #5a4712; letter-spacing: 0.5px;
}}
QLabel#sectionTitle {{ color: {MUTED}; font-size: 11px; font-weight: 700; letter-spacing: 1px; }}
QLabel#verdictTitle {{ font-size: 17px; font-weight: 700; }}
QLabel#muted {{ color: {MUTED}; }}
QListWidget, QTableWidget, QTreeWidget {{
    background: {BASE}; border: 1px solid {BORDER}; selection-background-color: #2b4f78;
    selection-color: white; outline: 0;
}}
QListWidget::item {{ padding: 3px; }}
QListWidget::item:selected {{ background: #2b4f78; }}
QHeaderView::section {{ background: {PANEL}; color: {MUTED}; border: 0; padding: 4px; }}
QToolBar {{ background: {PANEL}; border: 0; border-bottom: 1px solid {BORDER}; spacing: 4px; padding: 2px; }}
QToolButton {{ color: {TEXT}; padding: 4px 8px; border-radius: 3px; }}
QToolButton:hover {{ background: #30343b; }}
QToolButton:checked {{ background: #2b4f78; }}
QStatusBar {{ background: {PANEL}; color: {MUTED}; border-top: 1px solid {BORDER}; }}
QProgressBar {{ background: {BASE}; border: 1px solid {BORDER}; border-radius: 3px; color: {TEXT};
    text-align: center; max-height: 14px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 2px; }}
QComboBox, QPushButton {{ background: #2c3036; color: {TEXT}; border: 1px solid {BORDER};
    border-radius: 3px; padding: 3px 8px; }}
QPushButton:hover, QComboBox:hover {{ border-color: {ACCENT}; }}
QSlider::groove:horizontal {{ height: 4px; background: #3a3f47; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {TEXT}; width: 12px; margin: -5px 0; border-radius: 6px; }}
QSlider::sub-page:horizontal {{ background: {ACCENT}; border-radius: 2px; }}
QTabWidget::pane {{ border: 0; }}
QTabBar::tab {{ background: {PANEL}; color: {MUTED}; padding: 5px 12px; border: 0; }}
QTabBar::tab:selected {{ color: {TEXT}; border-bottom: 2px solid {ACCENT}; }}
QMenu {{ background: {PANEL}; color: {TEXT}; border: 1px solid {BORDER}; }}
QMenu::item:selected {{ background: #2b4f78; }}
QMenuBar {{ background: {PANEL}; color: {TEXT}; }}
QMenuBar::item:selected {{ background: #30343b; }}
QScrollBar:vertical {{ background: {BASE}; width: 10px; }}
QScrollBar::handle:vertical {{ background: #3a3f47; border-radius: 4px; min-height: 20px; }}
QSplitter::handle {{ background: {BORDER}; }}
"""


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: BACKGROUND, QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE, QPalette.ColorRole.AlternateBase: PANEL,
        QPalette.ColorRole.ToolTipBase: PANEL, QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT, QPalette.ColorRole.Button: "#2c3036",
        QPalette.ColorRole.ButtonText: TEXT, QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT, QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: ACCENT, QPalette.ColorRole.PlaceholderText: MUTED,
    }  # fmt: skip
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7079"))
    return palette


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(_STYLESHEET)


def verdict_colour(class_name: str | None) -> str:
    """Badge colour of a verdict: green for normal, orange for any anomaly, grey if none."""
    if class_name is None:
        return PENDING_COLOUR
    return NORMAL_COLOUR if class_name == "normal" else ANOMALY_COLOUR
