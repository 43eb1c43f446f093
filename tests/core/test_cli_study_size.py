"""``cnsight-study size``: a pilot's analysis.json or reads CSV in, the cases needed per number of
readers out; every refusal exits 2 with its reason logged (stderr) (the Van Dyke numbers are checked
in tests/core/test_mrmc_study.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli.study import main


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    """A small fully crossed pilot (3 readers, 2 treatments, 24 cases) and its analysis.json."""
    rng = np.random.default_rng(4)
    root = tmp_path_factory.mktemp("pilot")
    truth = np.arange(24) % 2
    rows = ["reader,treatment,case,truth,rating"]
    for reader in ("R1", "R2", "R3"):
        for gain, treatment in ((0.0, "unaided"), (0.6, "aided")):
            scores = rng.normal(size=24) + truth * (1.0 + gain)
            rows += [f"{reader},{treatment},c{k},{t},{s:.4f}" for k, (t, s) in enumerate(zip(truth, scores, strict=True))]  # fmt: skip
    reads = root / "reads.csv"
    reads.write_text("\n".join(rows) + "\n")
    assert main(["analyze", "--reads", str(reads), "--out", str(root / "analysis")]) == 0
    return reads, root / "analysis" / "analysis.json"


def test_size_from_analysis_json_and_from_the_reads_agree(pilot, tmp_path, capsys):
    reads, analysis = pilot
    out = tmp_path / "size.json"
    args = ["--effect", "0.1", "--readers", "3,6", "--cases", "24"]
    assert main(["size", str(analysis), *args, "--out", str(out)]) == 0
    from_json = capsys.readouterr().out
    assert main(["size", str(reads), *args]) == 0
    assert capsys.readouterr().out == from_json
    assert "3 readers:" in from_json and "6 readers:" in from_json and "power" in from_json
    table = json.loads(out.read_text())["table"]
    assert [row["readers"] for row in table] == [3, 6]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--power", "1.5"], "--power must be between 0 and 1"),
        (["--alpha", "0"], "--alpha must be between 0 and 1"),
        (["--readers", "four"], "comma-separated numbers"),
        (["--readers", "1,4"], "at least 2 readers and 2 cases"),
        (["--cases", "1"], "at least 2 readers and 2 cases"),
    ],
)
def test_bad_size_options_are_refused(pilot, extra, message, caplog):
    _reads, analysis = pilot
    assert main(["size", str(analysis), "--effect", "0.1", *extra]) == 2
    assert message in caplog.text  # the CLI's log goes to stderr


def test_a_missing_or_foreign_pilot_is_refused(tmp_path, caplog):
    assert main(["size", str(tmp_path / "none.json"), "--effect", "0.1"]) == 2
    assert "none.json: no such file" in caplog.text
    other = tmp_path / "other.json"
    other.write_text('{"something": "else"}')
    assert main(["size", str(other), "--effect", "0.1"]) == 2
    assert "not an analysis.json of cnsight-study analyze" in caplog.text
