"""DICOMweb over HTTPS against a real Orthanc behind a TLS-terminating proxy on loopback
(tests/support/tls_proxy.py; why not Orthanc's own ``SslEnabled``: that module's docstring),
with a throw-away CA and server certificate made here (tests/support/tls_certs.py).

Through ``core.pacs`` as the app and ``cnsight-pacs`` use it: QIDO-RS search and WADO-RS
retrieve with the node's CA file set, and its client certificate where the server requires
one; a wrong CA, a certificate for another host, a missing or foreign client certificate and
HTTPS to a plain HTTP port each end in the typed error DICOM TLS gives, with a plain message. The
Orthanc is the shared plain one (``orthanc``, tests/conftest.py): no extra server to start.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.cli.pacs import main
from core.pacs import transfer
from core.pacs.cache import StudyCache
from core.pacs.errors import CertificateNotTrusted, TlsFailed
from core.pacs.nodes import TlsOptions
from core.pacs.query import StudyQuery
from tests.support.orthanc import DICOMWEB_PLUGIN
from tests.support.tls_certs import make_pki
from tests.support.tls_proxy import running_tls_proxy

pytestmark = pytest.mark.skipif(
    not DICOMWEB_PLUGIN.exists(), reason="the Orthanc DICOMweb plugin (orthanc-dicomweb) is absent"
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"), "site")


@pytest.fixture(scope="module")
def https_url(pki, orthanc):
    """Orthanc's DICOMweb root over HTTPS, with ``pki``'s server certificate (127.0.0.1 and
    localhost)."""
    for proxy in running_tls_proxy(pki.server_cert, pki.server_key, orthanc.http_port):
        yield f"{proxy.url}/dicom-web"


def _web_node(server, url: str, ca_file: str):
    """A DICOMweb-only node (no DICOM address: every call goes over HTTPS)."""
    return server.node(host="", ae_title="", dicomweb_url=url, tls=TlsOptions(ca_file=ca_file))


def test_qido_and_wado_over_https_with_the_nodes_ca(tmp_path, orthanc, https_url, pki):
    node = _web_node(orthanc, https_url, str(pki.ca_cert))
    assert transfer.test_connection(node).lines == (f"DICOMweb at {node.dicomweb_url}: OK",)
    (study,) = transfer.search(node, StudyQuery(patient_id="PH3-0001"))
    assert study.n_instances == 8
    cache = StudyCache(tmp_path / "cache", limit_bytes=50_000_000)
    cached = transfer.retrieve(node, study.study_uid, cache, "wadors")
    assert cached.n_instances == 8 and len(list(cached.instances.glob("*.dcm"))) == 8


def test_wrong_ca_is_refused_as_not_trusted(tmp_path, orthanc, https_url, capsys):
    other = make_pki(tmp_path / "other", "other")  # a CA that did not sign the certificate
    node = _web_node(orthanc, https_url, str(other.ca_cert))
    with pytest.raises(CertificateNotTrusted, match="certificate was not trusted") as caught:
        transfer.search(node, StudyQuery(patient_id="PH3-0001"))
    message = str(caught.value)
    assert message.startswith(f"QIDO-RS: {node.dicomweb_url}: ")
    assert str(other.ca_cert) in message and "Set the node's CA file" in message
    assert "HTTPSConnectionPool" not in message  # not urllib3's nested text

    # The system's CAs (no CA file) do not know the throw-away CA either.
    with pytest.raises(CertificateNotTrusted, match="the system's CAs did not sign it"):
        transfer.test_connection(_web_node(orthanc, https_url, ""))

    # The CLI: exit 2 and that one message, no traceback.
    args = ["find", "--dicomweb", node.dicomweb_url, "--tls-ca", str(other.ca_cert)]
    assert main([*args, "--patient-id", "PH3-0001"]) == 2
    err = capsys.readouterr().err
    assert "certificate was not trusted" in err and "Traceback" not in err


def test_certificate_for_another_host_is_refused(orthanc, pki):
    # 127.0.0.2 is loopback too but not in the certificate (127.0.0.1, localhost); the check
    # is the node's TLS setting, the same as for DICOM TLS.
    for proxy in running_tls_proxy(
        pki.server_cert, pki.server_key, orthanc.http_port, host="127.0.0.2"
    ):
        node = _web_node(orthanc, f"{proxy.url}/dicom-web", str(pki.ca_cert))
        with pytest.raises(CertificateNotTrusted, match="does not name the host '127.0.0.2'"):
            transfer.test_connection(node)
        # With the host-name check off (a test set-up's choice) the same address is accepted.
        transfer.test_connection(replace(node, tls=replace(node.tls, verify_hostname=False)))


def test_client_certificate_when_the_server_requires_one(tmp_path, orthanc, pki):
    """The node's client certificate goes with every HTTPS request (from its TLS settings,
    as for DICOM TLS); without it the server's refusal is a typed error."""
    for proxy in running_tls_proxy(
        pki.server_cert, pki.server_key, orthanc.http_port, client_ca=pki.ca_cert
    ):
        node = _web_node(orthanc, f"{proxy.url}/dicom-web", str(pki.ca_cert))
        with_cert = replace(
            node,
            tls=replace(node.tls, cert_file=str(pki.client_cert), key_file=str(pki.client_key)),
        )
        (study,) = transfer.search(with_cert, StudyQuery(patient_id="PH3-0002"))
        assert study.n_instances == 7
        with pytest.raises(TlsFailed, match="require a client certificate, and this node has"):
            transfer.test_connection(node)
        foreign = make_pki(tmp_path / "other", "other")
        untrusted = replace(
            node,
            tls=replace(
                node.tls, cert_file=str(foreign.client_cert), key_file=str(foreign.client_key)
            ),
        )
        with pytest.raises(TlsFailed, match="may not trust our client certificate's CA"):
            transfer.test_connection(untrusted)


def test_https_to_a_plain_http_port_is_a_clear_error(orthanc, pki):
    node = _web_node(orthanc, orthanc.dicomweb_url.replace("http://", "https://"), str(pki.ca_cert))
    with pytest.raises(TlsFailed, match="does not speak HTTPS at this address") as caught:
        transfer.test_connection(node)
    assert not isinstance(caught.value, CertificateNotTrusted)
