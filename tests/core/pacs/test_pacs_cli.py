"""cnsight-pacs against a real Orthanc: exit 0 with results, exit 2 with one clear message."""

from __future__ import annotations

import csv
import io
import json

from core.cli.pacs import main


def _nodes_file(tmp_path, orthanc):
    path = tmp_path / "nodes.json"
    node = orthanc.node().to_json()
    path.write_text(json.dumps({"nodes": [node], "cache": {"folder": str(tmp_path / "cache")}}))
    return path


def test_echo_find_get_by_named_node(tmp_path, orthanc, capsys):
    nodes = _nodes_file(tmp_path, orthanc)
    assert main(["echo", "--nodes", str(nodes), "--node", "test-orthanc"]) == 0
    assert "C-ECHO to ORTHANC" in capsys.readouterr().out
    assert (
        main(["find", "--nodes", str(nodes), "--node", "test-orthanc", "--patient-id", "PH3-0002"])
        == 0
    )
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["patient_id"] == "PH3-0002" and row["n_instances"] == "7"
    args = ["--quiet", "get", "--nodes", str(nodes), "--node", "test-orthanc", row["study_uid"]]
    assert main([*args, "--method", "get"]) == 0
    uid, folder, n = capsys.readouterr().out.strip().split("\t")
    assert uid == row["study_uid"] and n == "7" and folder.startswith(str(tmp_path / "cache"))


def test_errors_exit_2_with_one_message(tmp_path, orthanc, capsys):
    assert (
        main(["echo", "--host", "127.0.0.1", "--port", str(orthanc.dicom_port), "--aet", "WRONG"])
        == 2
    )
    assert "called AE title not recognised" in capsys.readouterr().err
    assert main(["echo"]) == 2
    assert "no PACS node given" in capsys.readouterr().err
    assert main(["echo", "--nodes", str(_nodes_file(tmp_path, orthanc)), "--node", "nope"]) == 2
    assert "no PACS node named 'nope'" in capsys.readouterr().err
