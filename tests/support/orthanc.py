"""A real Orthanc for the PACS tests: its own config, storage and free loopback ports in a
temporary folder, started per test (or per module), stopped after - also when a test fails.

Not the Debian package's system service (CI has no systemd, and a site's real PACS is set up
by its IT; docs/pacs.md). Skips, with the reason, only when the Orthanc binary is absent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ORTHANC_BINARY = Path(os.environ.get("CNSIGHT_ORTHANC", "/usr/sbin/Orthanc"))
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
ORTHANC_AET = "ORTHANC"
OUR_AET = "CNSIGHT"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DicomTls:
    """DICOM TLS on Orthanc's DICOM port (Orthanc >= 1.9.0; >= 1.9.3 for ``require_client_cert``):
    PEM files for its certificate and key, and the certificates it trusts for clients."""

    certificate: Path
    private_key: Path
    trusted: Path
    require_client_cert: bool = True


def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_orthanc() -> None:
    if not ORTHANC_BINARY.exists():
        pytest.skip(
            f"Orthanc is not installed ({ORTHANC_BINARY} missing): "
            "scripts/install-system-deps.sh installs the Debian package 'orthanc'"
        )


@dataclass
class OrthancServer:
    """One running Orthanc and how to reach it (DICOM, REST, DICOMweb)."""

    folder: Path
    dicom_port: int
    http_port: int
    our_port: int  # where our Storage SCP listens for C-MOVE (registered in Orthanc)
    process: subprocess.Popen | None = None
    has_dicomweb: bool = False
    aet: str = ORTHANC_AET
    our_aet: str = OUR_AET
    dicom_tls: DicomTls | None = None  # None: plain DICOM on dicom_port
    log_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_file = self.folder / "orthanc.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def node(self, **overrides):
        """A ``core.pacs.nodes.PacsNode`` for this server (short timeout: tests stay fast)."""
        from core.pacs.nodes import PacsNode

        values = dict(
            name="test-orthanc",
            ae_title=self.aet,
            host="127.0.0.1",
            port=self.dicom_port,
            our_ae_title=self.our_aet,
            our_port=self.our_port,
            dicomweb_url=self.dicomweb_url if self.has_dicomweb else "",
            timeout_s=10.0,
        )
        values.update(overrides)
        return PacsNode(**values)

    # ----- REST ------------------------------------------------------------------------------
    def rest(self, method: str, path: str, body: bytes | dict | None = None):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        if response.headers.get_content_type() == "application/json":
            return json.loads(raw)
        return raw

    def upload(self, *paths: Path) -> int:
        """Store DICOM files (folders: every .dcm under them) via REST; returns how many."""
        n = 0
        for path in paths:
            for f in sorted(path.rglob("*.dcm")) if path.is_dir() else [path]:
                self.rest("POST", "/instances", f.read_bytes())
                n += 1
        return n

    def lookup(self, uid: str, level: str = "Study") -> str | None:
        """Orthanc's id of the study/series/instance with this DICOM UID, or None."""
        for item in self.rest("POST", "/tools/lookup", uid.encode()):
            if item["Type"] == level:
                return item["ID"]
        return None

    def delete_study(self, study_uid: str) -> None:
        self.rest("DELETE", f"/studies/{self.lookup(study_uid)}")

    def series_instances(self, series_uid: str) -> list[bytes]:
        """The stored files of a series (what Orthanc kept, read back)."""
        series = self.lookup(series_uid, "Series")
        if series is None:
            return []
        ids = self.rest("GET", f"/series/{series}")["Instances"]
        return [self.rest("GET", f"/instances/{i}/file") for i in ids]

    # ----- life --------------------------------------------------------------------------------
    def config(self) -> dict:
        config = {
            "Name": "cnsight-test",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,  # loopback only
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": True,  # a wrong AE title is rejected, as at a real site
            "DicomModalities": {"cnsight": [self.our_aet, "127.0.0.1", self.our_port]},
            "DicomScuTimeout": 10,
            "SaveJobs": False,
            "HttpsVerifyPeers": False,
            "Plugins": [],
        }
        if self.dicom_tls is not None:  # the DICOM port then speaks TLS only
            config.update(
                DicomTlsEnabled=True,
                DicomTlsCertificate=str(self.dicom_tls.certificate),
                DicomTlsPrivateKey=str(self.dicom_tls.private_key),
                DicomTlsTrustedCertificates=str(self.dicom_tls.trusted),
                DicomTlsRemoteCertificateRequired=self.dicom_tls.require_client_cert,
            )
        if DICOMWEB_PLUGIN.exists():
            config["Plugins"] = [str(DICOMWEB_PLUGIN)]
            config["DicomWeb"] = {"Enable": True, "Root": "/dicom-web/"}
            self.has_dicomweb = True
        return config

    def start(self) -> OrthancServer:
        (self.folder / "storage").mkdir(parents=True, exist_ok=True)
        config_file = self.folder / "orthanc.json"
        config_file.write_text(json.dumps(self.config(), indent=2))
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [str(ORTHANC_BINARY), str(config_file)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start:\n{self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            self.rest("GET", "/system")
            with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def pause(self) -> None:
        """SIGSTOP: the server hangs (the kernel still accepts connections, nothing answers)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()  # a paused server cannot handle SIGTERM
        self.process.terminate()
        try:  # its storage is thrown away: no need to wait for a slow clean shut-down
            self.process.wait(1)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def running_orthanc(folder: Path, dicom_tls: DicomTls | None = None) -> Iterator[OrthancServer]:
    """Start Orthanc in ``folder`` (with DICOM TLS when ``dicom_tls`` is given); yield it; stop
    it (whatever happened in between)."""
    require_orthanc()
    server = OrthancServer(folder, free_port(), free_port(), free_port(), dicom_tls=dicom_tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def phantom_dicom_study(folder: Path) -> Path:
    """Two tiny synthetic DICOM patients (one study each: 8 and 7 instances, one cine each)."""
    from phantoms.phantom_set import generate_phantom_set

    generate_phantom_set(folder, n_patients=2, seed=3, fmt="dicom", size=(128, 104))
    return folder
