"""A TLS-terminating proxy on loopback for the HTTPS tests: it accepts HTTPS with a server
certificate and forwards the bytes to a plain HTTP port (Orthanc's), as nginx does in front of
Orthanc at many sites.

Why not Orthanc's own ``SslEnabled``: the Debian build here (Orthanc 1.10.1 with libcivetweb
1.15 and OpenSSL 3) dies with a segmentation fault on the first HTTPS request (EC and RSA
certificates, TLS 1.2 and 1.3 alike; cf. civetweb/civetweb#1316), so it cannot serve a test.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path


class TlsProxy:
    """``host``: the loopback address to listen on (127.0.0.2 is loopback too, and not in a
    certificate made for 127.0.0.1). ``client_ca``: require a client certificate it signed."""

    def __init__(
        self, certificate: Path, private_key: Path, target_port: int, host: str = "127.0.0.1",
        client_ca: Path | None = None,
    ):  # fmt: skip
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(certificate), str(private_key))
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(str(client_ca))
        self.target_port = target_port
        self.host = host
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _addr = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):  # e.g. the client did not trust our certificate
            conn.close()
            return
        with tls, socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
            self._pipe(tls, upstream)

    def _pipe(self, tls: ssl.SSLSocket, upstream: socket.socket) -> None:
        """Copy both ways until either side closes (one thread: an SSL socket must not be
        read and written from two threads at once)."""
        while not self._closed.is_set():
            readable = [tls] if tls.pending() else []
            if not readable:
                readable, _w, _x = select.select([tls, upstream], [], [], 1.0)
            try:
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is tls else tls).sendall(data)
            except (ssl.SSLError, OSError):
                return

    def close(self) -> None:
        self._closed.set()
        self.listener.close()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"


def running_tls_proxy(
    certificate: Path, private_key: Path, target_port: int, **options
) -> Iterator[TlsProxy]:
    """A ``TlsProxy`` (``options``: its ``host``, ``client_ca``), closed after."""
    proxy = TlsProxy(certificate, private_key, target_port, **options)
    try:
        yield proxy
    finally:
        proxy.close()
