"""The app's identity on screen: its icon (``resources/icons``, the one the packages install)
and its name with the version, for the title bar and About."""

from __future__ import annotations

import logging

from PySide6.QtGui import QIcon

import core
from core.resources import resource_dir

log = logging.getLogger(f"cnsight.{__name__}")

APP_NAME = "CNSight"


def app_title(detail: str = "") -> str:
    """'CNSight 0.1.0', then ' — detail' (a study, "de-identified", a reading case...)."""
    title = f"{APP_NAME} {core.__version__}"
    return f"{title} — {detail}" if detail else title


def icon_files() -> list:
    folder = resource_dir() / "icons"
    return sorted(folder.glob("cnsight-*.png")) + sorted(folder.glob("cnsight.svg"))


def app_icon() -> QIcon:
    """Every size of the icon found in resources/icons (an empty icon, logged, if none)."""
    icon = QIcon()
    for path in icon_files():
        icon.addFile(str(path))
    if icon.isNull():
        log.warning("no application icon found in %s", resource_dir() / "icons")
    return icon
