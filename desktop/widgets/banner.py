"""The research-use line on top of every window (styled as ``QLabel#researchBanner``)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

import core


class ResearchBanner(QLabel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(core.RESEARCH_USE_ONLY, parent)
        self.setObjectName("researchBanner")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
