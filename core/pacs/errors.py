"""What can go wrong talking to a PACS, one typed error each, with a message a user can act on.

Every error is a ``core.errors.CNSightError`` (so the CLI's one ``except`` gives exit code 2 and
the app one message box); the messages are the ones docs/pacs.md explains under
"Troubleshooting".
"""

from __future__ import annotations

from core.errors import CancelledError, CNSightError


class PacsError(CNSightError):
    """Base of every PACS error; the message says what happened and what to check."""


class NodeConfigError(PacsError):
    """A node's settings (or the nodes file) are invalid or incomplete."""


class ConnectionRefused(PacsError):
    """Nothing answers at the node's host and port (closed port, wrong host, firewall)."""


class AssociationRejected(PacsError):
    """The PACS answered but rejected the association (A-ASSOCIATE-RJ)."""

    def __init__(self, message: str, source: int | None = None, reason: int | None = None):
        self.source, self.reason = source, reason
        super().__init__(message)


class WrongAETitle(AssociationRejected):
    """The PACS rejected an AE title: its own (called) or ours (calling)."""


class TlsFailed(PacsError):
    """The DICOM TLS handshake failed: the port does not speak TLS, or the two sides disagree."""


class CertificateNotTrusted(TlsFailed):
    """The PACS's TLS certificate is not signed by the CA we trust, or does not name its host."""


class PacsTimeout(PacsError):
    """The PACS did not answer in time (connection, association, or a DIMSE/HTTP reply)."""


class ConnectionLost(PacsError):
    """The connection broke during an operation (the server stopped, the network went away)."""


class StudyNotFound(PacsError):
    """The PACS has no such study (any more): C-MOVE/C-GET sent nothing, or 404 on WADO-RS."""


class RetrieveFailed(PacsError):
    """The PACS reported a failure status for a retrieve or not every instance arrived."""


class SendFailed(PacsError):
    """Some or all instances were not accepted by the PACS (C-STORE or STOW-RS)."""


class CacheFull(PacsError):
    """A study does not fit in the local cache, even with every other study evicted."""


class RetrieveCancelled(PacsError, CancelledError):
    """The user cancelled a retrieve; nothing of it is left in the cache as complete."""
