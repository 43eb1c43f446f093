"""The "Send results to PACS" dialog: what will be sent, to which node and how, and the
reader's impression and name for the PDF report (as File > Export report asks for them); the
sending itself runs in the background and its outcome is shown in the dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import CNSightError
from core.pacs import transfer
from core.pacs.nodes import PacsConfig, PacsNode, load_config
from core.taxonomy import display_name

from ..background import OpRunner
from .feedback import MessageLine, error_text
from .send_results import PatientResults, SentResults, build_and_send

METHOD_TEXT = {"store": "C-STORE (DIMSE)", "stow": "STOW-RS (DICOMweb)"}


def _summary(results: PatientResults) -> str:
    v = results.verdict
    finding = display_name(v.pred) if v.assessable else "not assessable"
    n_sc = len(v.drivers)  # one heatmap image per driving view (none when not assessable)
    return (
        f"Patient {results.label}: a Structured Report (patient finding: {finding}; "
        f"{len(results.predictions)} image findings; model {results.card.name}), "
        f"{n_sc} heatmap image{'s' if n_sc != 1 else ''} of the driving views and the PDF "
        "report (the one File > Export report writes), as new series of the patient's study. "
        "Research use only."
    )


class SendResultsDialog(QDialog):
    sent = Signal(str)  # one line for the main window's status bar

    def __init__(
        self, runner: OpRunner, results: PatientResults, nodes_file: Path | None = None,
        parent: QWidget | None = None, reader: str = "",
    ):  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle("CNSight — send results to PACS")
        self.setObjectName("sendResultsDialog")
        self.runner, self.results = runner, results
        self.outcome: SentResults | None = None
        self.config = PacsConfig()
        summary = QLabel(_summary(results))
        summary.setObjectName("sendSummary")
        summary.setWordWrap(True)
        self.node = QComboBox()
        self.node.setObjectName("sendNode")
        self.method = QComboBox()
        self.method.setObjectName("sendMethod")
        for key in transfer.SEND_METHODS:
            self.method.addItem(METHOD_TEXT[key], key)
        self.impression = QPlainTextEdit()
        self.impression.setObjectName("sendImpression")
        self.impression.setPlaceholderText(
            "Your impression (printed in the PDF report; the AI result is printed separately)"
        )
        self.impression.setMaximumHeight(90)
        self.reader = QLineEdit(reader)
        self.reader.setObjectName("sendReader")
        self.reader.setPlaceholderText("Name printed above the report's signature line")
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendButton")
        self.message = MessageLine("sendMessage")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.addButton(self.send_button, QDialogButtonBox.ButtonRole.ActionRole)
        close.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("PACS node", self.node)
        form.addRow("Send by", self.method)
        form.addRow("Impression", self.impression)
        form.addRow("Reader", self.reader)
        lay = QVBoxLayout(self)
        lay.addWidget(summary)
        lay.addLayout(form)
        lay.addWidget(self.message)
        lay.addWidget(close)
        self.resize(620, 380)
        self.send_button.clicked.connect(self.send)
        self.node.currentIndexChanged.connect(lambda _i: self._node_changed())
        try:
            self.config = load_config(nodes_file)
        except CNSightError as exc:
            self.message.show_error(str(exc))
        for n in self.config.nodes:
            self.node.addItem(n.describe(), n.name)
        if not self.config.nodes and not self.message.is_error:
            self.message.show_error("No PACS node is set up: add one in PACS > PACS nodes…")
        self._node_changed()

    def selected_node(self) -> PacsNode | None:
        name = self.node.currentData()
        return self.config.node(name) if name else None

    def _node_changed(self) -> None:
        node = self.selected_node()
        for i, key in enumerate(transfer.SEND_METHODS):
            usable = node is not None and transfer.node_supports(node, key)
            self.method.model().item(i).setEnabled(usable)
        if (
            node is not None
            and not self.method.model().item(self.method.currentIndex()).isEnabled()
        ):
            self.method.setCurrentIndex(self.method.findData("store" if node.has_dimse else "stow"))
        self.send_button.setEnabled(node is not None)

    def send(self) -> None:
        node, method = self.selected_node(), self.method.currentData()
        if node is None:
            return
        self.send_button.setEnabled(False)
        self.message.show_info(f"Building the DICOM results and sending them to {node.name}…")
        results = self.results.signed(
            self.impression.toPlainText().strip(), self.reader.text().strip()
        )
        self.runner.run(
            lambda: build_and_send(results, node, method),
            lambda outcome: self._sent(node, outcome),
            self._failed,
        )

    def _sent(self, node: PacsNode, outcome: SentResults) -> None:
        self.outcome = outcome
        self.send_button.setEnabled(True)
        n = len(outcome.report.sent)
        text = (
            f"Sent {n} objects ({', '.join(outcome.files)}) to {node.name} into study "
            f"{outcome.study_uid}; new series {', '.join(outcome.report.series_uids)}."
        )
        self.message.show_info(text)
        self.sent.emit(f"Results of {self.results.label} sent to {node.name} ({n} objects)")

    def _failed(self, exc: BaseException) -> None:
        self.send_button.setEnabled(True)
        self.message.show_error(f"Sending failed: {error_text(exc)}")
