"""DICOMweb with dicomweb-client: QIDO-RS (search), WADO-RS (retrieve), STOW-RS (send).

HTTP failures become the same typed errors as DIMSE ones (``core.pacs.errors``).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Sequence

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient

from .cache import StudyWriter
from .dimse import DicomFile, Progress, SendReport, _no_progress
from .errors import (
    ConnectionLost,
    ConnectionRefused,
    NodeConfigError,
    PacsError,
    PacsTimeout,
    RetrieveCancelled,
    StudyNotFound,
)
from .nodes import PacsNode
from .query import RETURN_FIELDS, QueryError, StudyQuery, StudyRecord


class _Session(requests.Session):
    """Sends ``*`` in query strings as itself: dicomweb-client escapes the QIDO-RS wildcard
    to ``%2A`` (equivalent by RFC 3986, '*' is a sub-delimiter), which some servers (Orthanc's
    DICOMweb plugin 1.x) then match literally, so ``PatientName=DOE*`` found nothing."""

    def send(self, request, **kwargs):
        if request.url and "?" in request.url:
            base, query = request.url.split("?", 1)
            request.url = f"{base}?{query.replace('%2A', '*')}"
        return super().send(request, **kwargs)


def client(node: PacsNode) -> DICOMwebClient:
    if not node.dicomweb_url:
        raise NodeConfigError(f"PACS node {node.name!r} has no DICOMweb URL")
    session = _Session()
    if node.tls.ca_file:
        session.verify = node.tls.ca_file
    if node.tls.cert_file:
        session.cert = (
            (node.tls.cert_file, node.tls.key_file) if node.tls.key_file else node.tls.cert_file
        )
    web = DICOMwebClient(url=node.dicomweb_url.rstrip("/"), session=session, timeout=node.timeout_s)
    # No silent retries: dicomweb-client retries every failed request up to 5 times with
    # exponential back-off (30 s for a closed port); the user should hear at once.
    web.set_http_retry_params(retry=False)
    return web


@contextlib.contextmanager
def http_errors(node: PacsNode, what: str, study_uid: str = "") -> Iterator[None]:
    """Translate requests' exceptions into PacsErrors that name the node and the operation."""
    url = node.dicomweb_url
    try:
        yield
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else 0
        if code == 404 and study_uid:
            raise StudyNotFound(
                f"{what}: {url} has no study {study_uid} (deleted or moved since the search)"
            ) from exc
        if code in (401, 403):
            raise PacsError(
                f"{what}: {url} refused access (HTTP {code}): check the credentials"
            ) from exc
        raise PacsError(f"{what}: {url} answered HTTP {code}: {exc}") from exc
    except requests.exceptions.SSLError as exc:
        raise ConnectionRefused(f"{what}: TLS with {url} failed: {exc}") from exc
    except requests.exceptions.Timeout as exc:
        raise PacsTimeout(f"{what}: {url} did not answer within {node.timeout_s:g} s") from exc
    except requests.exceptions.ConnectionError as exc:
        text = str(exc)
        if "Connection refused" in text or "Failed to resolve" in text or "Name or service" in text:
            raise ConnectionRefused(
                f"{what}: nothing accepts connections at {url}: check the URL and that the "
                "server is running"
            ) from exc
        raise ConnectionLost(f"{what}: the connection to {url} was lost ({exc})") from exc
    except requests.exceptions.RequestException as exc:
        raise ConnectionLost(f"{what}: {url}: {exc}") from exc


def echo(node: PacsNode) -> None:
    """A QIDO-RS search for one study: proves the DICOMweb URL answers."""
    with http_errors(node, "QIDO-RS"):
        client(node).search_for_studies(limit=1)


def find_studies(node: PacsNode, query: StudyQuery, limit: int = 1000) -> list[StudyRecord]:
    with http_errors(node, "QIDO-RS"):
        results = client(node).search_for_studies(
            search_filters=query.qido_filters(), fields=list(RETURN_FIELDS), limit=limit
        )
    try:
        return [StudyRecord.from_dicom_json(r) for r in results]
    except (ValueError, KeyError, TypeError) as exc:
        raise QueryError(
            f"QIDO-RS: {node.dicomweb_url} sent results that are not DICOM JSON"
        ) from exc


def retrieve_study(
    node: PacsNode,
    writer: StudyWriter,
    progress: Progress = _no_progress,
    cancel: threading.Event | None = None,
):
    """WADO-RS the study instance by instance into ``writer``; returns the ``CachedStudy``."""
    study_uid = writer.study_uid
    found = find_studies(node, StudyQuery(study_uid=study_uid), limit=1)
    if not found:
        raise StudyNotFound(
            f"WADO-RS: {node.dicomweb_url} has no study {study_uid} (deleted or moved since "
            "the search)"
        )
    total = found[0].n_instances
    progress(0, total)
    with http_errors(node, "WADO-RS", study_uid):
        for ds in client(node).iter_study(study_uid):
            if cancel is not None and cancel.is_set():
                raise RetrieveCancelled("WADO-RS: cancelled")
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            writer.add(str(ds.SOPInstanceUID), buffer.getvalue())
            progress(writer.n_instances, total)
    if writer.n_instances == 0:
        raise StudyNotFound(f"WADO-RS: {node.dicomweb_url} sent no instance of study {study_uid}")
    return writer.complete(expected=total)


def store_files(
    node: PacsNode,
    files: Sequence[DicomFile],
    progress: Progress = _no_progress,
    cancel: threading.Event | None = None,
) -> SendReport:
    """STOW-RS the files, one request per study; raises SendFailed when any was refused."""
    report = SendReport(total=len(files))
    by_study: dict[str, list[DicomFile]] = {}
    for f in files:
        by_study.setdefault(f.study_uid, []).append(f)
    web = client(node)
    for study_uid, group in by_study.items():
        report.stop_if_cancelled(cancel)
        datasets = [pydicom.dcmread(f.path) for f in group]
        with http_errors(node, "STOW-RS"):
            response = web.store_instances(datasets, study_instance_uid=study_uid)
        refused = {
            str(item.get("ReferencedSOPInstanceUID", ""))
            for item in response.get("FailedSOPSequence", [])
        }
        for f in group:
            if f.sop_instance_uid in refused:
                report.failed.append((f, "refused by STOW-RS"))
            else:
                report.sent.append(f)
        progress(report.done, report.total)
    return report.raise_if_refused(node.dicomweb_url)
