"""About / model card dialog, the keyboard shortcuts dialog (both read-only), and non-blocking
message boxes."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import core
from core.taxonomy import display_name

from . import theme
from .card_html import flat_rows, fmt, key_value_table, training_data_html, validation_html
from .identity import app_icon, app_title
from .model_worker import ModelInfo


def _domain_text(card) -> str:
    """What the bundle can tell about images unlike its training data."""
    if not card.has_domain:
        return (
            "no out-of-distribution statistics: only the model-free checks (modality, B-mode, "
            "blank, size) can refuse an image"
        )
    d = card.domain
    return (
        f"Mahalanobis distance on the pooled features; threshold keeps "
        f"{fmt(100 * d.get('kept_validation', d.get('keep', 0)))}% of "
        f"{d.get('n_validation_images', '?')} validation images"
    )


def model_card_html(info: ModelInfo | None) -> str:
    """The About page: app, research-use line, then the model card sections."""
    parts = [
        f"<h2 style='margin-bottom:2px'>CNSight {html.escape(core.__version__)}</h2>",
        "<p>Prenatal ultrasound reading tool: CNS anomaly classification with heatmaps.</p>",
        f"<p style='color:{theme.BANNER_TEXT}; font-weight:700'>{html.escape(core.RESEARCH_USE_ONLY)}</p>",
    ]
    if info is None:
        parts.append(f"<p style='color:{theme.MUTED}'>No model loaded.</p>")
        return "".join(parts)
    card = info.card
    model_rows = [
        ("Name", card.name), ("Description", card.description or "—"),
        ("Architecture", card.architecture),
        ("Classes", ", ".join(display_name(n) for n in card.class_names)),
        ("Input", card.preprocessing.describe()),
        ("Planes", ", ".join(card.planes) or "no plane head"),
        ("Out of domain", _domain_text(card)),
        ("Patient rule", card.aggregation), ("Temperature", fmt(card.temperature)),
        ("Patient figure", "probability, temperature " + fmt(card.patient_temperature)
         if card.patient_temperature is not None else "a score (not calibrated on patients)"),
        ("Created", card.created or "—"), ("Weights", f"{card.weights_dtype}, sha256:"),
        ("", card.weights_sha256), ("Bundle", str(info.path)), ("Device in use", info.device),
        ("Inference backend", info.backend or "—"),
    ]  # fmt: skip
    parts += [
        "<h3>Model</h3>",
        key_value_table(model_rows),
        "<h3>Training data</h3>",
        training_data_html(card.training_data, card.class_names),
        "<h3>Validation metrics</h3>",
        validation_html(card.validation_metrics, card.class_names),
        "<h3>Software</h3>",
        key_value_table(flat_rows(card.software | {"PySide6": pyside_version})),
        "<h3>Training run</h3>",
        key_value_table(flat_rows(card.training), "Not stated in the model card."),
    ]
    return "".join(parts)


class ModelCardDialog(QDialog):
    def __init__(self, info: ModelInfo | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"About {app_title()} / model card")
        self.setWindowIcon(app_icon())
        self.setObjectName("modelCardDialog")
        self.resize(720, 640)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setHtml(model_card_html(info))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)


class ShortcutsDialog(QDialog):
    """Lists the shortcuts from the same table that creates the actions."""

    def __init__(self, shortcuts: Sequence[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        self.resize(480, 760)
        table = QTableWidget(len(shortcuts), 2)
        table.setHorizontalHeaderLabels(["Key", "Action"])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)
        for i, (keys, text) in enumerate(shortcuts):
            table.setItem(i, 0, QTableWidgetItem(keys))
            table.setItem(i, 1, QTableWidgetItem(text))
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
        table.resizeColumnToContents(0)
        table.setColumnWidth(0, table.columnWidth(0) + 16)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(table)
        lay.addWidget(buttons)


class ReportDialog(QDialog):
    """Before the PDF: the reader's impression (free text) and name, printed above the
    signature line. Not modal: the window goes on working while it is open."""

    signed = Signal(str, str)  # impression, reader name

    def __init__(self, patient_label: str, reader: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Report for {patient_label}")
        self.setObjectName("reportDialog")
        self.setModal(False)
        self.resize(560, 420)
        self.impression = QPlainTextEdit()
        self.impression.setObjectName("reportImpression")
        self.impression.setPlaceholderText(
            "Your impression (printed in the report; the AI result is printed separately)"
        )
        self.reader = QLineEdit(reader)
        self.reader.setObjectName("reportReader")
        self.reader.setPlaceholderText("Name printed above the signature line")
        note = QLabel(core.RESEARCH_USE_ONLY + ": the report says so on every page.")
        note.setObjectName("muted")
        form = QFormLayout()
        form.addRow("Impression", self.impression)
        form.addRow("Reader", self.reader)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("Export PDF…")
        buttons.accepted.connect(self._sign)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(buttons)

    def _sign(self) -> None:
        self.accept()
        self.signed.emit(self.impression.toPlainText().strip(), self.reader.text().strip())


def show_message(parent: QWidget, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
    """A message box that does not block (no modal exec loop): the window keeps working, and
    analysis goes on, while it is open."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setModal(False)
    box.show()
    return box
