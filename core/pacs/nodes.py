"""PACS nodes and where they are kept: one JSON file shared by the app and ``cnsight-pacs``.

The file (default ``$XDG_CONFIG_HOME/CNSight/pacs-nodes.json``, i.e. ``~/.config/CNSight/``
next to the app's settings; ``$CNSIGHT_PACS_NODES`` overrides it) holds the nodes and the local
cache's folder and size limit::

    {"nodes": [{"name": "main-pacs", "ae_title": "PACS", "host": "pacs.example.org",
                "port": 104, "our_ae_title": "CNSIGHT", "our_port": 11112,
                "dicomweb_url": "https://pacs.example.org/dicom-web", "timeout_s": 30,
                "tls": {"enabled": true, "ca_file": "/etc/ssl/site-ca.pem"}}],
     "cache": {"folder": "/data/cnsight-cache", "limit_mb": 20000}}

Unknown keys are refused (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import CertificateNotTrusted, NodeConfigError

_NAME_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH

NODES_FILE_ENV = "CNSIGHT_PACS_NODES"
DEFAULT_OUR_AE_TITLE = "CNSIGHT"
DEFAULT_OUR_PORT = 11112
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_CACHE_LIMIT_MB = 10_000
_AE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _-.")


@dataclass(frozen=True)
class TlsOptions:
    """DICOM TLS (pynetdicom's ``tls_args``) and HTTPS for DICOMweb.

    ``ca_file``: the CA (or the PACS's certificate) to trust; empty = the system's CAs.
    ``cert_file``/``key_file``: our client certificate, when the PACS requires one.
    ``verify_hostname``: check the PACS's certificate names ``host`` (off only for test set-ups
    whose certificate names an IP address the site does not use).
    """

    enabled: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    verify_hostname: bool = True

    def ssl_context(self) -> ssl.SSLContext:
        """The client context for an association to the PACS (raises NodeConfigError)."""
        try:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=self.ca_file or None
            )
            context.check_hostname = self.verify_hostname
            if self.cert_file:
                context.load_cert_chain(self.cert_file, self.key_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise NodeConfigError(f"TLS files could not be loaded: {exc}") from exc
        return context

    def untrusted(
        self, where: str, host: str, exc: ssl.SSLCertVerificationError
    ) -> CertificateNotTrusted:
        """The error for a PACS certificate that failed verification (DICOM TLS and HTTPS
        alike): a certificate for another host, or one that ``ca_file`` did not sign."""
        reason = exc.verify_message or exc.reason or str(exc)
        if exc.verify_code in _NAME_MISMATCH:
            return CertificateNotTrusted(
                f"{where}: the PACS's TLS certificate was not trusted: it does not name the host "
                f"{host!r} ({reason}). Connect by a name the certificate holds, or turn off "
                "the host-name check for this node."
            )
        trusted = f"the CA file {self.ca_file}" if self.ca_file else "the system's CAs"
        return CertificateNotTrusted(
            f"{where}: the PACS's TLS certificate was not trusted ({reason}): {trusted} did not "
            "sign it. Set the node's CA file to the CA that signed the PACS's certificate."
        )


@dataclass(frozen=True)
class PacsNode:
    """One remote DICOM node and how we present ourselves to it."""

    name: str
    ae_title: str = ""  # the PACS's AE title (the "called" AE title)
    host: str = ""
    port: int = 104
    our_ae_title: str = DEFAULT_OUR_AE_TITLE  # the "calling" AE title the PACS must know
    our_port: int = DEFAULT_OUR_PORT  # where our Storage SCP listens during a C-MOVE
    dicomweb_url: str = ""  # e.g. http://pacs:8042/dicom-web (QIDO/WADO/STOW-RS)
    timeout_s: float = DEFAULT_TIMEOUT_S
    tls: TlsOptions = field(default_factory=TlsOptions)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise NodeConfigError(f"PACS node {self.name or '(unnamed)'!r}: " + "; ".join(problems))

    def problems(self) -> list[str]:
        out = []
        if not self.name.strip():
            out.append("a name is required")
        for label, aet in (("AE title", self.ae_title), ("our AE title", self.our_ae_title)):
            if aet and (len(aet) > 16 or not set(aet) <= _AE_CHARS or not aet.strip()):
                out.append(f"{label} {aet!r} must be 1-16 letters, digits, spaces, _ - or .")
        for label, port in (("port", self.port), ("our port", self.our_port)):
            if not 1 <= int(port) <= 65535:
                out.append(f"{label} {port} must be 1-65535")
        if self.timeout_s <= 0:
            out.append(f"timeout {self.timeout_s} s must be positive")
        if self.dicomweb_url and not self.dicomweb_url.startswith(("http://", "https://")):
            out.append(f"DICOMweb URL {self.dicomweb_url!r} must start with http:// or https://")
        return out

    @property
    def has_dimse(self) -> bool:
        return bool(self.ae_title and self.host)

    def describe(self) -> str:
        parts = []
        if self.has_dimse:
            parts.append(f"{self.ae_title}@{self.host}:{self.port}")
        if self.dicomweb_url:
            parts.append(self.dicomweb_url)
        return f"{self.name} ({', '.join(parts) or 'no address'})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PacsNode:
        if not isinstance(data, dict):
            raise NodeConfigError(f"a node must be a JSON object, not {data!r}")
        data = dict(data)
        _refuse_unknown(data, cls, f"node {data.get('name', '')!r}")
        tls = data.pop("tls", None) or {}
        if not isinstance(tls, dict):
            raise NodeConfigError(f"node {data.get('name', '')!r}: 'tls' must be a JSON object")
        _refuse_unknown(tls, TlsOptions, f"node {data.get('name', '')!r} tls")
        try:
            return cls(**data, tls=TlsOptions(**tls))
        except (TypeError, ValueError) as exc:
            raise NodeConfigError(f"node {data.get('name', '')!r}: {exc}") from exc


@dataclass(frozen=True)
class CacheSettings:
    folder: str = ""  # empty = the default (``default_cache_folder()``)
    limit_mb: float = DEFAULT_CACHE_LIMIT_MB

    @property
    def path(self) -> Path:
        return Path(self.folder).expanduser() if self.folder else default_cache_folder()

    @property
    def limit_bytes(self) -> int:
        return int(self.limit_mb * 1_000_000)


@dataclass(frozen=True)
class PacsConfig:
    """The whole nodes file."""

    nodes: tuple[PacsNode, ...] = ()
    cache: CacheSettings = field(default_factory=CacheSettings)

    def node(self, name: str) -> PacsNode:
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes) or "none"
        raise NodeConfigError(f"no PACS node named {name!r} (known: {known})")

    def with_node(self, node: PacsNode, old_name: str | None = None) -> PacsConfig:
        """This config with ``node`` added, or replacing the node called ``old_name``/its name."""
        replaced = old_name or node.name
        kept = [n for n in self.nodes if n.name not in (replaced, node.name)]
        return replace(self, nodes=(*kept, node))

    def without_node(self, name: str) -> PacsConfig:
        return replace(self, nodes=tuple(n for n in self.nodes if n.name != name))


def _refuse_unknown(data: dict, cls: type, where: str) -> None:
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise NodeConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def default_nodes_file() -> Path:
    """``$CNSIGHT_PACS_NODES``, else ``$XDG_CONFIG_HOME/CNSight/pacs-nodes.json``."""
    override = os.environ.get(NODES_FILE_ENV)
    return Path(override) if override else _config_home() / "CNSight" / "pacs-nodes.json"


def default_cache_folder() -> Path:
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "CNSight" / "pacs"


def load_config(path: Path | None = None) -> PacsConfig:
    """The nodes file at ``path`` (default: ``default_nodes_file()``); missing = no nodes."""
    path = Path(path) if path else default_nodes_file()
    if not path.exists():
        return PacsConfig()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NodeConfigError(f"{path}: not a readable JSON nodes file ({exc})") from exc
    if not isinstance(data, dict):
        raise NodeConfigError(f"{path}: must hold a JSON object with 'nodes' and 'cache'")
    unknown = set(data) - {"nodes", "cache"}
    if unknown:
        raise NodeConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    nodes = data.get("nodes", [])
    if not isinstance(nodes, list):
        raise NodeConfigError(f"{path}: 'nodes' must be a list")
    parsed = tuple(PacsNode.from_json(n) for n in nodes)
    names = [n.name for n in parsed]
    if len(set(names)) != len(names):
        raise NodeConfigError(f"{path}: two nodes share a name ({', '.join(names)})")
    cache = data.get("cache", {}) or {}
    if not isinstance(cache, dict):
        raise NodeConfigError(f"{path}: 'cache' must be a JSON object")
    _refuse_unknown(cache, CacheSettings, f"{path}: cache")
    try:
        settings = CacheSettings(**cache)
        if settings.limit_mb <= 0:
            raise ValueError(f"limit_mb {settings.limit_mb} must be positive")
    except (TypeError, ValueError) as exc:
        raise NodeConfigError(f"{path}: cache: {exc}") from exc
    return PacsConfig(parsed, settings)


def save_config(config: PacsConfig, path: Path | None = None) -> Path:
    """Write the nodes file atomically (temp file + rename); returns its path."""
    path = Path(path) if path else default_nodes_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"nodes": [n.to_json() for n in config.nodes], "cache": asdict(config.cache)}
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
