"""DIMSE with pynetdicom: C-ECHO, study-level C-FIND, C-MOVE (to our own Storage SCP), C-GET,
C-STORE. Every failure becomes one of ``core.pacs.errors`` with a plain message.

Why a TCP connect (and, with TLS, a TLS handshake) before each association: pynetdicom reports
a closed port, an unknown host, a hung server and every TLS failure (an untrusted certificate,
a port without TLS) all as "aborted", and logs the reason; trying the socket first tells the
user which it is.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from .cache import StudyWriter
from .errors import (
    AssociationRejected,
    CacheFull,
    ConnectionLost,
    ConnectionRefused,
    NodeConfigError,
    PacsError,
    PacsTimeout,
    RetrieveCancelled,
    RetrieveFailed,
    SendFailed,
    StudyNotFound,
    TlsFailed,
    WrongAETitle,
)
from .nodes import PacsNode
from .query import QueryError, StudyQuery, StudyRecord

log = logging.getLogger(f"cnsight.{__name__}")

#: ``progress(done, total)``: instances received or sent so far, and how many in all (None
#: while the PACS has not said).
Progress = Callable[[int, "int | None"], None]
#: pynetdicom proposes at most 128 presentation contexts per association.
MAX_CONTEXTS = 128
_UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
#: Storage SOP classes we accept during a C-GET (the C-GET context takes one of the 128).
_GET_STORAGE = [cx.abstract_syntax for cx in AllStoragePresentationContexts][: MAX_CONTEXTS - 1]

_STATUS_TEXT = {
    0xA701: "out of resources (could not calculate the number of matches)",
    0xA702: "out of resources (could not perform the sub-operations)",
    0xA801: "move destination unknown",
    0xA900: "identifier does not match the SOP class",
    0xC000: "unable to process",
    0xFE00: "cancelled",
}


#: OpenSSL's verify codes for a certificate that does not name the host we connected to.


def _no_progress(_done: int, _total: int | None) -> None:
    pass


# ----- associations ------------------------------------------------------------------------------
def _check_reachable(node: PacsNode) -> None:
    """Raise ConnectionRefused / PacsTimeout when nothing answers at the node's address."""
    if not node.has_dimse:
        raise NodeConfigError(
            f"PACS node {node.name!r} has no DICOM address (AE title and host are needed)"
        )
    try:
        with socket.create_connection((node.host, node.port), timeout=node.timeout_s) as sock:
            if node.tls.enabled:
                _check_tls_handshake(node, sock)
    except TimeoutError as exc:
        raise PacsTimeout(
            f"{node.host}:{node.port} did not answer within {node.timeout_s:g} s "
            "(host down, or a firewall drops the connection)"
        ) from exc
    except socket.gaierror as exc:
        raise ConnectionRefused(f"unknown host {node.host!r} ({exc.strerror})") from exc
    except OSError as exc:
        raise ConnectionRefused(
            f"nothing accepts connections at {node.host}:{node.port} ({exc.strerror or exc}): "
            "check the host and port, and that the PACS is running"
        ) from exc


def _check_tls_handshake(node: PacsNode, sock: socket.socket) -> None:
    """Raise CertificateNotTrusted / TlsFailed when a TLS handshake on ``sock`` fails.

    Only what the handshake shows from our side: a PACS that refuses *our* certificate says so
    after it (TLS 1.3), which ``associate`` reports as a closed connection with a hint."""
    context = node.tls.ssl_context()
    where = f"{node.host}:{node.port}"
    try:
        with context.wrap_socket(
            sock, server_hostname=node.host if node.tls.verify_hostname else None
        ):
            pass
    except ssl.SSLCertVerificationError as exc:
        raise node.tls.untrusted(where, node.host, exc) from exc
    except TimeoutError:
        raise  # _check_reachable reports it
    except (ssl.SSLError, ConnectionError) as exc:  # reset, EOF, "wrong version number"...
        raise TlsFailed(
            f"{where}: the TLS handshake failed ({getattr(exc, 'reason', None) or exc}): this "
            "port may not use DICOM TLS. Check the PACS's TLS port, or turn TLS off for this node."
        ) from exc


def _application_entity(node: PacsNode) -> AE:
    ae = AE(ae_title=node.our_ae_title)
    for attr in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, attr, node.timeout_s)
    return ae


def _rejection(node: PacsNode, assoc: Association) -> AssociationRejected:
    rsp = assoc.acceptor.primitive
    source = getattr(rsp, "result_source", None)
    reason = getattr(rsp, "diagnostic", None)
    text = getattr(rsp, "reason_str", "") or "no reason given"
    if source == 1 and reason == 7:
        return WrongAETitle(
            f"{node.host}:{node.port} rejected the association: it is not called "
            f"{node.ae_title!r} (called AE title not recognised). Use the PACS's own AE title.",
            source,
            reason,
        )
    if source == 1 and reason == 3:
        return WrongAETitle(
            f"{node.ae_title} at {node.host}:{node.port} does not know our AE title "
            f"{node.our_ae_title!r} (calling AE title not recognised): register it on the PACS.",
            source,
            reason,
        )
    return AssociationRejected(
        f"{node.ae_title} at {node.host}:{node.port} rejected the association: {text}",
        source,
        reason,
    )


@contextlib.contextmanager
def associate(
    node: PacsNode,
    ae: AE,
    ext_neg: Sequence | None = None,
    evt_handlers: Sequence | None = None,
) -> Iterator[Association]:
    """An established association with ``node`` (released, or aborted on error, after)."""
    _check_reachable(node)
    tls_args = None
    if node.tls.enabled:
        tls_args = (node.tls.ssl_context(), node.host if node.tls.verify_hostname else None)
    started = time.monotonic()
    assoc = ae.associate(
        node.host,
        node.port,
        ae_title=node.ae_title,
        ext_neg=list(ext_neg or []) or None,
        evt_handlers=list(evt_handlers or []) or None,
        tls_args=tls_args,
    )
    # A rejection can be read as an abort when the PACS closes the socket right after its
    # A-ASSOCIATE-RJ; the received primitive still says "rejected".
    if assoc.is_rejected or getattr(assoc.acceptor.primitive, "result", None) in (0x01, 0x02):
        raise _rejection(node, assoc)
    if not assoc.is_established:
        waited = time.monotonic() - started
        if waited >= node.timeout_s * 0.9:
            raise PacsTimeout(
                f"{node.ae_title} at {node.host}:{node.port} accepted the connection but did "
                f"not answer the association request within {node.timeout_s:g} s"
            )
        if not node.tls.enabled:
            hint = " (does the PACS require DICOM TLS?)"
        elif node.tls.cert_file:
            hint = " (does the PACS trust our client certificate's CA?)"
        else:
            hint = " (does the PACS require a client certificate? none is set for this node)"
        raise ConnectionLost(
            f"{node.ae_title} at {node.host}:{node.port} closed the connection during "
            f"association{hint}; or it accepts none of the proposed services"
        )
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    else:
        assoc.release()


class _Responses:
    """Reads a DIMSE response generator; an empty status means the association broke or timed
    out, which becomes ConnectionLost or PacsTimeout (by how long the last reply took)."""

    def __init__(self, node: PacsNode, what: str, cancel: threading.Event | None = None):
        self.node, self.what, self.cancel = node, what, cancel
        self.last = time.monotonic()
        self.count = 0  # responses with a status so far

    def __call__(self, responses) -> Iterator[tuple[int, Dataset, Dataset | None]]:
        for status, identifier in responses:
            now, waited = time.monotonic(), time.monotonic() - self.last
            self.last = now
            if "Status" not in status:
                if self.cancel is not None and self.cancel.is_set():
                    raise RetrieveCancelled(f"{self.what}: cancelled")
                if waited >= self.node.timeout_s * 0.9:
                    raise PacsTimeout(
                        f"{self.what}: {self.node.ae_title} sent no reply within "
                        f"{self.node.timeout_s:g} s"
                    )
                raise ConnectionLost(
                    f"{self.what}: the connection to {self.node.ae_title} at "
                    f"{self.node.host}:{self.node.port} was lost (the server stopped or the "
                    "network failed)"
                )
            self.count += 1
            yield int(status.Status), status, identifier


def _status_text(code: int) -> str:
    return f"0x{code:04X} ({_STATUS_TEXT.get(code, 'failure')})"


# ----- C-ECHO ------------------------------------------------------------------------------------
def echo(node: PacsNode) -> float:
    """C-ECHO the node; returns the round trip in seconds (raises a PacsError)."""
    ae = _application_entity(node)
    ae.add_requested_context(Verification)
    started = time.monotonic()
    with associate(node, ae) as assoc:
        status = assoc.send_c_echo()
        if "Status" not in status:
            raise ConnectionLost(f"C-ECHO: no reply from {node.ae_title} (connection lost)")
        if int(status.Status) != 0x0000:
            raise PacsError(f"C-ECHO: {node.ae_title} answered status 0x{status.Status:04X}")
    return time.monotonic() - started


# ----- C-FIND ------------------------------------------------------------------------------------
def find_studies(node: PacsNode, query: StudyQuery, limit: int = 1000) -> list[StudyRecord]:
    """Study-level C-FIND (Study Root); at most ``limit`` results (the rest are cancelled)."""
    ae = _application_entity(node)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    found: list[StudyRecord] = []
    with associate(node, ae) as assoc:
        read = _Responses(node, "C-FIND")
        responses = assoc.send_c_find(
            query.identifier(), StudyRootQueryRetrieveInformationModelFind
        )
        for code, _status, identifier in read(responses):
            if code in (0xFF00, 0xFF01) and identifier is not None:
                found.append(StudyRecord.from_dataset(identifier))
                if len(found) >= limit:
                    assoc.send_c_cancel(1, None, StudyRootQueryRetrieveInformationModelFind)
            elif code == 0xFE00 or code == 0x0000:
                break
            else:
                raise QueryError(
                    f"C-FIND: {node.ae_title} refused the search: {_status_text(code)}"
                )
    return found


def study_instance_count(node: PacsNode, study_uid: str) -> int:
    """How many instances the PACS holds for ``study_uid`` (StudyNotFound when none)."""
    found = find_studies(node, StudyQuery(study_uid=study_uid))
    if not found:
        raise StudyNotFound(
            f"{node.ae_title} has no study {study_uid} (it may have been deleted or moved)"
        )
    return found[0].n_instances or 0


# ----- retrieve: C-MOVE and C-GET ----------------------------------------------------------------
@dataclass
class _Receiver:
    """The C-STORE handler of a retrieve: writes every arriving instance into the cache."""

    writer: StudyWriter
    progress: Progress
    cancel: threading.Event
    total: int | None = None
    error: BaseException | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_store(self, event) -> int:
        if self.cancel.is_set() or self.error is not None:
            return 0xFE00  # cancelled
        try:
            self.writer.add(event.request.AffectedSOPInstanceUID, event.encoded_dataset())
        except CacheFull as exc:
            with self._lock:
                self.error = exc
            self.cancel.set()  # stop the retrieve: the study cannot fit
            return 0xA700  # out of resources
        except Exception as exc:  # noqa: BLE001 - any write failure ends the retrieve, reported
            with self._lock:
                self.error = RetrieveFailed(f"could not write a received instance: {exc}")
            self.cancel.set()
            return 0xA700
        self.progress(self.writer.n_instances, self.total)
        return 0x0000


def _abort_on_cancel(assoc: Association, cancel: threading.Event, done: threading.Event) -> None:
    """Abort ``assoc`` as soon as ``cancel`` is set (a thread; ends when ``done`` is set)."""
    while not done.wait(0.05):
        if cancel.is_set():
            assoc.abort()
            # pynetdicom's response generator waits on this queue for up to the DIMSE timeout
            # even after an abort; an empty item wakes it at once (read as "connection ended").
            assoc.dimse.msg_queue.put((None, None))
            return


def _run_retrieve(
    node: PacsNode,
    assoc: Association,
    responses,
    receiver: _Receiver,
    what: str,
) -> dict[str, int]:
    """Read C-MOVE/C-GET responses until the final one; returns the sub-operation counts."""
    done = threading.Event()
    watcher = threading.Thread(
        target=_abort_on_cancel, args=(assoc, receiver.cancel, done), daemon=True
    )
    watcher.start()
    counts = {"completed": 0, "failed": 0, "warning": 0}
    read = _Responses(node, what, receiver.cancel)
    try:
        for code, status, _identifier in read(responses):
            for key in counts:
                value = status.get(f"NumberOf{key.capitalize()}Suboperations")
                if value is not None:
                    counts[key] = int(value)
            remaining = status.get("NumberOfRemainingSuboperations")
            if code in (0xFF00, 0xFF01):
                if remaining is not None and receiver.total is None:
                    receiver.total = int(remaining) + sum(counts.values())
                    receiver.progress(receiver.writer.n_instances, receiver.total)
                continue
            if code == 0xFE00 and receiver.error is None:
                raise RetrieveCancelled(f"{what}: cancelled")
            if code == 0xA801:
                raise RetrieveFailed(
                    f"{what}: {node.ae_title} does not know the move destination "
                    f"{node.our_ae_title!r}: register our AE title on the PACS with this "
                    f"computer's address and port {node.our_port}"
                )
            if code not in (0x0000, 0xB000) and receiver.error is None:
                if receiver.cancel.is_set():
                    # Once our Storage SCP refuses the rest, a PACS may answer "unable to
                    # process" (Orthanc: 0xC000) instead of Cancel: the cause is our cancel.
                    raise RetrieveCancelled(f"{what}: cancelled")
                if receiver.writer.n_instances == 0 and code == 0xC000:
                    break  # nothing sent: _finish tells a vanished study from a failed one
                raise RetrieveFailed(f"{what}: {node.ae_title} answered {_status_text(code)}")
            break
    except RetrieveCancelled:
        if receiver.error is not None:
            raise receiver.error from None
        raise
    except ConnectionLost:
        if receiver.error is not None:
            raise receiver.error from None
        if receiver.cancel.is_set():
            raise RetrieveCancelled(f"{what}: cancelled") from None
        if read.count == 0 and receiver.writer.n_instances == 0 and what == "C-MOVE":
            raise RetrieveFailed(
                f"C-MOVE: {node.ae_title} ended the association without answering: it does not "
                f"accept our AE title {node.our_ae_title!r} (register it on the PACS with this "
                f"computer's address and port {node.our_port}), or it stopped"
            ) from None
        raise
    finally:
        done.set()
        watcher.join()
    if receiver.error is not None:
        raise receiver.error
    return counts


def _finish(
    node: PacsNode, writer: StudyWriter, counts: dict[str, int], what: str, expected: int | None
):
    if writer.n_instances == 0:
        # The PACS sent nothing: either the study is gone or the PACS could not reach us.
        study_instance_count(node, writer.study_uid)  # StudyNotFound when it is gone
        where = (
            f"our Storage SCP ({node.our_ae_title}, port {node.our_port}): check that the PACS "
            "has our AE title registered with this computer's address and that port, and that "
            "no firewall blocks it"
            if what == "C-MOVE"
            else "us"
        )
        raise RetrieveFailed(
            f"{what}: {node.ae_title} holds study {writer.study_uid} but sent none of it to "
            f"{where}; see the PACS's log"
        )
    if counts["failed"]:
        raise RetrieveFailed(
            f"{what}: {counts['failed']} instance(s) of study {writer.study_uid} failed to "
            "transfer; nothing was kept, retrieve it again"
        )
    return writer.complete(expected=max(expected or 0, counts["completed"]) or None)


def _retrieve_identifier(study_uid: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study_uid
    return ds


def move_study(
    node: PacsNode,
    writer: StudyWriter,
    progress: Progress = _no_progress,
    cancel: threading.Event | None = None,
    listen_host: str = "",
):
    """C-MOVE the study to our own Storage SCP (``node.our_port``; ``listen_host`` "" = all
    interfaces) and write it through ``writer``; returns the ``CachedStudy``."""
    cancel = cancel or threading.Event()
    receiver = _Receiver(writer, progress, cancel)
    scp_ae = _application_entity(node)
    for cx in AllStoragePresentationContexts:
        scp_ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    try:
        scp = scp_ae.start_server(
            (listen_host, node.our_port),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, receiver.on_store)],
        )
    except OSError as exc:
        raise NodeConfigError(
            f"cannot listen on our port {node.our_port} for the C-MOVE ({exc.strerror or exc}): "
            "another program (or CNSight) uses it; choose another 'our port' and register it "
            "on the PACS"
        ) from exc
    try:
        ae = _application_entity(node)
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        with associate(node, ae) as assoc:
            responses = assoc.send_c_move(
                _retrieve_identifier(writer.study_uid),
                node.our_ae_title,
                StudyRootQueryRetrieveInformationModelMove,
            )
            counts = _run_retrieve(node, assoc, responses, receiver, "C-MOVE")
    finally:
        scp.shutdown()
    return _finish(node, writer, counts, "C-MOVE", receiver.total)


def get_study(
    node: PacsNode,
    writer: StudyWriter,
    progress: Progress = _no_progress,
    cancel: threading.Event | None = None,
):
    """C-GET the study (instances come back on the same association); returns the
    ``CachedStudy``."""
    cancel = cancel or threading.Event()
    receiver = _Receiver(writer, progress, cancel)
    ae = _application_entity(node)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    roles = []
    for uid in _GET_STORAGE:
        ae.add_requested_context(uid, _UNCOMPRESSED)
        role = SCP_SCU_RoleSelectionNegotiation()
        role.sop_class_uid, role.scu_role, role.scp_role = uid, False, True
        roles.append(role)
    with associate(
        node, ae, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, receiver.on_store)]
    ) as assoc:
        responses = assoc.send_c_get(
            _retrieve_identifier(writer.study_uid), StudyRootQueryRetrieveInformationModelGet
        )
        counts = _run_retrieve(node, assoc, responses, receiver, "C-GET")
    return _finish(node, writer, counts, "C-GET", receiver.total)


# ----- C-STORE -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DicomFile:
    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    study_uid: str
    series_uid: str


@dataclass
class SendReport:
    """What a send did (C-STORE or STOW-RS): the files accepted, those refused and why.

    The two protocols end a send the same way, so the report does it: ``stop_if_cancelled``
    between files, ``raise_if_refused`` after the last."""

    total: int = 0  # files to send
    sent: list[DicomFile] = field(default_factory=list)
    failed: list[tuple[DicomFile, str]] = field(default_factory=list)

    @property
    def series_uids(self) -> list[str]:
        return sorted({f.series_uid for f in self.sent})

    @property
    def done(self) -> int:
        return len(self.sent) + len(self.failed)

    def stop_if_cancelled(self, cancel: threading.Event | None) -> None:
        if cancel is not None and cancel.is_set():
            raise RetrieveCancelled(
                f"sending cancelled after {len(self.sent)} of {self.total} files"
            )

    def raise_if_refused(self, receiver: str) -> SendReport:
        """SendFailed naming (up to five of) the refused files and why; else the report."""
        if self.failed:
            lines = "; ".join(f"{f.path.name}: {why}" for f, why in self.failed[:5])
            raise SendFailed(
                f"{receiver} refused {len(self.failed)} of {self.total} files "
                f"({len(self.sent)} stored): {lines}"
            )
        return self


def store_files(
    node: PacsNode,
    files: Sequence[DicomFile],
    progress: Progress = _no_progress,
    cancel: threading.Event | None = None,
) -> SendReport:
    """C-STORE every file; raises SendFailed (after trying them all) when any was refused."""
    report = SendReport(total=len(files))
    by_class: dict[str, set[str]] = {}
    for f in files:
        by_class.setdefault(f.sop_class_uid, set()).add(f.transfer_syntax_uid)
    classes = sorted(by_class)
    for start in range(0, len(classes), MAX_CONTEXTS):
        chunk = set(classes[start : start + MAX_CONTEXTS])
        ae = _application_entity(node)
        for uid in sorted(chunk):
            syntaxes = list(dict.fromkeys([*sorted(by_class[uid]), *_UNCOMPRESSED]))
            ae.add_requested_context(uid, syntaxes)
        with associate(node, ae) as assoc:
            for f in (f for f in files if f.sop_class_uid in chunk):
                report.stop_if_cancelled(cancel)
                try:
                    status = assoc.send_c_store(f.path)
                except ValueError as exc:  # no accepted context for this SOP class/syntax
                    report.failed.append((f, f"the PACS accepts no such object ({exc})"))
                    continue
                if "Status" not in status:
                    raise ConnectionLost(
                        f"C-STORE: the connection to {node.ae_title} was lost after "
                        f"{len(report.sent)} of {len(files)} files"
                    )
                code = int(status.Status)
                if code == 0x0000 or 0xB000 <= code <= 0xBFFF:  # success or warning (coerced)
                    report.sent.append(f)
                else:
                    report.failed.append((f, f"status 0x{code:04X}"))
                progress(report.done, report.total)
    return report.raise_if_refused(node.ae_title)
