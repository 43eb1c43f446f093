"""File > Recent studies: one entry per study (its first path, and how many more), then Clear."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMenu

from .file_ops import recent_paths


def fill_recent_menu(
    menu: QMenu,
    recent: list[str],
    open_paths: Callable[[list[Path]], None],
    clear: Callable[[], None],
) -> None:
    """Replace the menu's entries with ``recent`` (settings' list, newest first)."""
    menu.clear()
    for entry in recent:
        paths = recent_paths(entry)
        more = f"  (+{len(paths) - 1} more)" if len(paths) > 1 else ""
        menu.addAction(f"{paths[0]}{more}").triggered.connect(
            lambda _checked=False, p=paths: open_paths(p)
        )
    if recent:
        menu.addSeparator()
        menu.addAction("Clear list").triggered.connect(clear)
    menu.setEnabled(bool(recent))
