"""The fields of one PACS node (``core.pacs.nodes.PacsNode``), and back.

The protocol choice decides which fields count: DIMSE needs the PACS's AE title, host and port
(and ours, for C-MOVE); DICOMweb needs the base URL; a node may have both. Fields of a protocol
not chosen are kept on screen but not saved. TLS (``TlsOptions``) applies to both.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.pacs.errors import NodeConfigError
from core.pacs.nodes import DEFAULT_OUR_AE_TITLE, DEFAULT_OUR_PORT, PacsNode, TlsOptions

DIMSE, DICOMWEB, BOTH = "dimse", "dicomweb", "both"
PROTOCOLS = {
    DIMSE: "DIMSE (C-ECHO, C-FIND, C-MOVE/C-GET, C-STORE)",
    DICOMWEB: "DICOMweb (QIDO-RS, WADO-RS, STOW-RS)",
    BOTH: "DIMSE and DICOMweb",
}


def protocol_of(node: PacsNode) -> str:
    if node.has_dimse and node.dicomweb_url:
        return BOTH
    return DICOMWEB if node.dicomweb_url and not node.has_dimse else DIMSE


def _port_box(value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, 65535)
    box.setValue(value)
    return box


class NodeForm(QWidget):
    """Edits one node; ``node()`` reads it back (NodeConfigError says what is wrong)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = QLineEdit()
        self.name.setObjectName("nodeName")
        self.protocol = QComboBox()
        self.protocol.setObjectName("nodeProtocol")
        for key, text in PROTOCOLS.items():
            self.protocol.addItem(text, key)
        self.ae_title = QLineEdit()
        self.ae_title.setObjectName("nodeAeTitle")
        self.ae_title.setPlaceholderText("the PACS's AE title, e.g. PACS")
        self.host = QLineEdit()
        self.host.setObjectName("nodeHost")
        self.port = _port_box(104)
        self.port.setObjectName("nodePort")
        self.our_ae_title = QLineEdit(DEFAULT_OUR_AE_TITLE)
        self.our_ae_title.setObjectName("nodeOurAeTitle")
        self.our_port = _port_box(DEFAULT_OUR_PORT)
        self.our_port.setObjectName("nodeOurPort")
        self.dicomweb_url = QLineEdit()
        self.dicomweb_url.setObjectName("nodeDicomwebUrl")
        self.dicomweb_url.setPlaceholderText("http://pacs:8042/dicom-web")
        self.timeout = QDoubleSpinBox()
        self.timeout.setObjectName("nodeTimeout")
        self.timeout.setRange(0.5, 600.0)
        self.timeout.setSuffix(" s")
        self.tls = QGroupBox("TLS (DICOM TLS; HTTPS for DICOMweb)")
        self.tls.setObjectName("nodeTls")
        self.tls.setCheckable(True)
        self.ca_file, ca_row = self._file_row("the CA or the PACS's certificate (empty: system)")
        self.cert_file, cert_row = self._file_row("our client certificate, if the PACS asks")
        self.key_file, key_row = self._file_row("our client certificate's key")
        self.verify_hostname = QCheckBox("Check that the certificate names the host")
        tls_form = QFormLayout(self.tls)
        tls_form.addRow("CA file", ca_row)
        tls_form.addRow("Client certificate", cert_row)
        tls_form.addRow("Client key", key_row)
        tls_form.addRow("", self.verify_hostname)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Protocol", self.protocol)
        form.addRow("PACS AE title", self.ae_title)
        form.addRow("PACS host", self.host)
        form.addRow("PACS port", self.port)
        form.addRow("Our AE title", self.our_ae_title)
        form.addRow("Our port (C-MOVE)", self.our_port)
        form.addRow("DICOMweb URL", self.dicomweb_url)
        form.addRow("Timeout", self.timeout)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(form)
        lay.addWidget(self.tls)
        self.protocol.currentIndexChanged.connect(lambda _i: self._enable_fields())
        self.set_node(None)

    def _file_row(self, placeholder: str) -> tuple[QLineEdit, QWidget]:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        browse = QPushButton("…")
        browse.setMaximumWidth(32)
        browse.clicked.connect(lambda: self._browse(edit))
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(edit, 1)
        lay.addWidget(browse)
        return edit, row

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "PEM file", edit.text(), "PEM (*.pem *.crt *.key);;All files (*)"
        )
        if path:
            edit.setText(path)

    def _enable_fields(self) -> None:
        protocol = self.protocol.currentData()
        for w in (self.ae_title, self.host, self.port, self.our_ae_title, self.our_port):
            w.setEnabled(protocol in (DIMSE, BOTH))
        self.dicomweb_url.setEnabled(protocol in (DICOMWEB, BOTH))

    def set_node(self, node: PacsNode | None) -> None:
        """Show ``node`` (None: an empty new node with the defaults)."""
        node = node or PacsNode(name="new-pacs")
        self.name.setText(node.name)
        self.protocol.setCurrentIndex(self.protocol.findData(protocol_of(node)))
        self.ae_title.setText(node.ae_title)
        self.host.setText(node.host)
        self.port.setValue(node.port)
        self.our_ae_title.setText(node.our_ae_title)
        self.our_port.setValue(node.our_port)
        self.dicomweb_url.setText(node.dicomweb_url)
        self.timeout.setValue(node.timeout_s)
        self.tls.setChecked(node.tls.enabled)
        self.ca_file.setText(node.tls.ca_file)
        self.cert_file.setText(node.tls.cert_file)
        self.key_file.setText(node.tls.key_file)
        self.verify_hostname.setChecked(node.tls.verify_hostname)
        self._enable_fields()

    def node(self) -> PacsNode:
        """The node the fields describe (NodeConfigError: what is missing or invalid)."""
        protocol = self.protocol.currentData()
        dimse = protocol in (DIMSE, BOTH)
        web = protocol in (DICOMWEB, BOTH)
        name = self.name.text().strip()
        ae_title, host = self.ae_title.text().strip(), self.host.text().strip()
        url = self.dicomweb_url.text().strip()
        missing = []
        if dimse and not ae_title:
            missing.append("the PACS's AE title")
        if dimse and not host:
            missing.append("the PACS's host")
        if web and not url:
            missing.append("the DICOMweb URL")
        if missing:
            raise NodeConfigError(
                f"PACS node {name or '(unnamed)'!r}: enter {' and '.join(missing)}"
            )
        tls = TlsOptions(
            enabled=self.tls.isChecked(),
            ca_file=self.ca_file.text().strip(),
            cert_file=self.cert_file.text().strip(),
            key_file=self.key_file.text().strip(),
            verify_hostname=self.verify_hostname.isChecked(),
        )
        node = PacsNode(
            name=name,
            ae_title=ae_title if dimse else "",
            host=host if dimse else "",
            port=self.port.value(),
            our_ae_title=self.our_ae_title.text().strip() or DEFAULT_OUR_AE_TITLE,
            our_port=self.our_port.value(),
            dicomweb_url=url if web else "",
            timeout_s=float(self.timeout.value()),
            tls=tls,
        )
        if tls.enabled:
            tls.ssl_context()  # refuse unreadable TLS files now, not at the first connection
        return node
