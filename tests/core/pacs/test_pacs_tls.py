"""DICOM TLS against a real Orthanc (its DICOM port TLS-only, client certificates required),
with a throw-away CA, server and client certificate made here (tests/support/tls_certs.py).

Through ``core.pacs`` as ``cnsight-pacs`` uses it: C-ECHO, C-FIND and C-GET over TLS work; a
wrong CA, a certificate for another host, a port without TLS, TLS missing on our side and a
client certificate the PACS does not trust each end in one typed error with a plain message.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from core.cli.pacs import main
from core.pacs import transfer
from core.pacs.cache import StudyCache
from core.pacs.errors import CertificateNotTrusted, ConnectionLost, TlsFailed
from core.pacs.nodes import TlsOptions
from core.pacs.query import StudyQuery
from tests.support.orthanc import DicomTls, running_orthanc
from tests.support.tls_certs import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"), "site")


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory):
    """Another CA: trusts nothing of ``pki``'s and is trusted by nobody."""
    return make_pki(tmp_path_factory.mktemp("other-pki"), "other")


@pytest.fixture(scope="module")
def tls_orthanc(tmp_path_factory, pki, phantom_studies):
    """Orthanc whose DICOM port speaks TLS only and requires a client certificate from
    ``pki``'s CA; the phantom studies stored (over REST, plain HTTP on loopback)."""
    tls = DicomTls(pki.server_cert, pki.server_key, trusted=pki.ca_cert)
    for server in running_orthanc(tmp_path_factory.mktemp("orthanc-tls"), dicom_tls=tls):
        server.upload(phantom_studies)
        yield server


def _tls(pki, **overrides) -> TlsOptions:
    values = dict(
        enabled=True,
        ca_file=str(pki.ca_cert),
        cert_file=str(pki.client_cert),
        key_file=str(pki.client_key),
    )
    values.update(overrides)
    return TlsOptions(**values)


def _tls_node(server, pki, **tls_overrides):
    return server.node(dicomweb_url="", tls=_tls(pki, **tls_overrides))


def test_cli_echo_and_find_over_tls(tmp_path, tls_orthanc, pki, capsys):
    tls_args = ["--tls-ca", str(pki.ca_cert), "--tls-cert", str(pki.client_cert)]
    tls_args += ["--tls-key", str(pki.client_key)]
    address = ["--host", "127.0.0.1", "--port", str(tls_orthanc.dicom_port), "--aet", "ORTHANC"]
    assert main(["echo", *address, *tls_args]) == 0
    assert f"C-ECHO to ORTHANC@127.0.0.1:{tls_orthanc.dicom_port}: OK" in capsys.readouterr().out

    # The same node from a nodes file, its TLS settings as the app's node dialog saves them.
    nodes = tmp_path / "nodes.json"
    node = _tls_node(tls_orthanc, pki)
    nodes.write_text(json.dumps({"nodes": [node.to_json()]}))
    args = ["find", "--nodes", str(nodes), "--node", node.name, "--patient-id", "PH3-0002"]
    assert main(args) == 0
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["patient_id"] == "PH3-0002" and row["n_instances"] == "7"


def test_c_get_over_tls_retrieves_the_whole_study(tmp_path, tls_orthanc, pki):
    node = _tls_node(tls_orthanc, pki)
    (study,) = transfer.search(node, StudyQuery(patient_id="PH3-0001"))
    cache = StudyCache(tmp_path / "cache", limit_bytes=50_000_000)
    cached = transfer.retrieve(node, study.study_uid, cache, "get")
    assert cached.n_instances == study.n_instances == 8
    assert len(list(cached.instances.glob("*.dcm"))) == 8


def test_wrong_ca_is_refused_as_not_trusted(tls_orthanc, pki, other_pki, capsys):
    node = _tls_node(tls_orthanc, pki, ca_file=str(other_pki.ca_cert))
    with pytest.raises(CertificateNotTrusted, match="certificate was not trusted") as caught:
        transfer.test_connection(node)
    assert str(other_pki.ca_cert) in str(caught.value)
    assert "Set the node's CA file" in str(caught.value)

    # The CLI: exit 2 and that one message, no traceback.
    address = ["--host", "127.0.0.1", "--port", str(tls_orthanc.dicom_port), "--aet", "ORTHANC"]
    assert main(["echo", *address, "--tls-ca", str(other_pki.ca_cert)]) == 2
    err = capsys.readouterr().err
    assert "certificate was not trusted" in err and "Traceback" not in err


def test_certificate_for_another_host_is_refused(tls_orthanc, pki):
    # 127.0.0.2 reaches the same Orthanc (all of 127/8 is loopback) but is not in its
    # certificate (127.0.0.1, localhost).
    node = replace(_tls_node(tls_orthanc, pki), host="127.0.0.2")
    with pytest.raises(CertificateNotTrusted, match="does not name the host '127.0.0.2'"):
        transfer.test_connection(node)
    # The same address with the host-name check off (a test set-up's choice) is accepted.
    transfer.test_connection(replace(node, tls=replace(node.tls, verify_hostname=False)))


def test_tls_to_a_plain_dicom_port_is_a_clear_error(orthanc, pki, capsys):
    node = orthanc.node(dicomweb_url="", tls=_tls(pki))
    with pytest.raises(TlsFailed, match="may not use DICOM TLS") as caught:
        transfer.test_connection(node)
    assert not isinstance(caught.value, CertificateNotTrusted)
    address = ["--host", "127.0.0.1", "--port", str(orthanc.dicom_port), "--aet", "ORTHANC"]
    assert main(["echo", *address, "--tls-ca", str(pki.ca_cert)]) == 2
    assert "the TLS handshake failed" in capsys.readouterr().err


def test_plain_dicom_to_the_tls_port_hints_at_tls(tls_orthanc):
    with pytest.raises(ConnectionLost, match="does the PACS require DICOM TLS"):
        transfer.test_connection(tls_orthanc.node(dicomweb_url=""))


def test_client_certificate_missing_or_untrusted(tls_orthanc, pki, other_pki):
    # The PACS refuses these after the handshake (TLS 1.3): only a hint is possible.
    no_cert = _tls_node(tls_orthanc, pki, cert_file="", key_file="")
    with pytest.raises(ConnectionLost, match="require a client certificate"):
        transfer.test_connection(no_cert)
    foreign = _tls_node(
        tls_orthanc, pki, cert_file=str(other_pki.client_cert), key_file=str(other_pki.client_key)
    )
    with pytest.raises(ConnectionLost, match="trust our client certificate"):
        transfer.test_connection(foreign)
