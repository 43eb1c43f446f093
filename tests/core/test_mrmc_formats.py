"""The files the MRMC tools read (issue 11, item 4), each read back by a parser written from
the tool's documented format - not by CNSight's own reader:

- ``.imrmc`` (iMRMC; also RJafroc ``DfReadDataFile(format = "iMRMC")``): as DIDSR's example
  files and RJafroc's ``ReadImrmc``: ``NR/N0/N1/NM`` lines, ``BEGIN DATA:``, truth rows
  ``-1,case,0,truth``, then ``reader,case,modality,score``;
- RJafroc's Excel ROC file: sheets TRUTH (CaseID, LesionID, Weight), FP (ReaderID,
  ModalityID, CaseID, FP_Rating: normal cases) and TP (ReaderID, ModalityID, CaseID, LesionID,
  TP_Rating: abnormal cases), integer ids, as RJafroc's ``ReadJAFROCOldFormat``;
- MRMCaov's long format is the reads CSV itself (tests/core/test_readerstudy.py).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from openpyxl import load_workbook

from core.cli.study import main as study_main
from core.mrmc import load_reads
from core.mrmc.formats import ids_path, write_imrmc, write_rjafroc_xlsx
from tests.support.reads import write_reads


def parse_imrmc(path):
    """iMRMC's input format: header counts, then comma-separated rows after BEGIN DATA:."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    counts = {}
    for line in lines[: lines.index("BEGIN DATA:")]:
        key, sep, value = line.partition(":")
        if sep and key in ("NR", "N0", "N1", "NM"):
            counts[key] = int(value)
    rows = [line.split(",") for line in lines[lines.index("BEGIN DATA:") + 1 :] if line]
    assert all(len(r) == 4 for r in rows)
    truth = {int(c): int(s) for r, c, m, s in rows if r == "-1"}
    assert {m for r, c, m, s in rows if r == "-1"} == {"0"}
    scores = {(int(r), int(m), int(c)): float(s) for r, c, m, s in rows if r != "-1"}
    return counts, truth, scores


def parse_rjafroc(path):
    wb = load_workbook(path)
    assert sorted(s.upper() for s in wb.sheetnames) == ["FP", "TP", "TRUTH"]

    def table(name):
        rows = list(wb[name].values)
        return rows[0], rows[1:]

    t_head, t_rows = table("TRUTH")
    fp_head, fp_rows = table("FP")
    tp_head, tp_rows = table("TP")
    assert t_head == ("CaseID", "LesionID", "Weight")
    assert fp_head == ("ReaderID", "ModalityID", "CaseID", "FP_Rating")
    assert tp_head == ("ReaderID", "ModalityID", "CaseID", "LesionID", "TP_Rating")
    assert all(isinstance(v, int) for r in t_rows for v in r[:2])  # RJafroc: integer ids
    truth = {c: lesion for c, lesion, _w in t_rows}
    assert all(truth[c] == 0 for _r, _m, c, _s in fp_rows)  # FP: the normal cases only
    assert all(truth[c] == 1 and lesion == 1 for _r, _m, c, lesion, _s in tp_rows)
    scores = {(r, m, c): s for r, m, c, s in fp_rows} | {(r, m, c): s for r, m, c, _l, s in tp_rows}
    return truth, scores


def _ids(path):
    with ids_path(path).open() as f:
        return {(row["kind"], row["name"]): int(row["id"]) for row in csv.DictReader(f)}


def _check_against(reads, truth, scores, ids):
    for k, c in enumerate(reads.cases):
        assert truth[ids[("case", c)]] == int(reads.truth[k])
    assert len(scores) == reads.ratings.size
    for i, t in enumerate(reads.treatments):
        for j, r in enumerate(reads.readers):
            for k, c in enumerate(reads.cases):
                key = (ids[("reader", r)], ids[("treatment", t)], ids[("case", c)])
                assert scores[key] == reads.ratings[i, j, k]


@pytest.fixture()
def synthetic(tmp_path):
    path = tmp_path / "reads.csv"
    write_reads(str(path))
    return load_reads(path)


def test_imrmc_file_reads_back_in_the_documented_format(tmp_path, synthetic):
    path = tmp_path / "study.imrmc"
    write_imrmc(path, synthetic)
    counts, truth, scores = parse_imrmc(path)
    assert counts == {"NR": 3, "N0": synthetic.n_negative, "N1": synthetic.n_positive, "NM": 2}
    _check_against(synthetic, truth, scores, _ids(path))


def test_rjafroc_excel_file_reads_back_in_the_documented_format(tmp_path, synthetic):
    path = tmp_path / "study.xlsx"
    write_rjafroc_xlsx(path, synthetic)
    truth, scores = parse_rjafroc(path)
    ids = _ids(path)
    assert {v for (kind, _n), v in ids.items() if kind == "case"} == set(range(1, 41))
    _check_against(synthetic, truth, scores, ids)


def test_van_dyke_round_trips_through_both_formats(tmp_path, shared_data):
    reads = load_reads(shared_data / "mrmc" / "vandyke.csv")
    write_imrmc(tmp_path / "vd.imrmc", reads)
    counts, truth, scores = parse_imrmc(tmp_path / "vd.imrmc")
    assert counts == {"NR": 5, "N0": 69, "N1": 45, "NM": 2}  # Van Dyke: 5 readers, 114 cases
    _check_against(reads, truth, scores, _ids(tmp_path / "vd.imrmc"))
    assert _ids(tmp_path / "vd.imrmc")[("case", "114")] == 114  # numeric ids keep their order
    write_rjafroc_xlsx(tmp_path / "vd.xlsx", reads)
    _check_against(reads, *parse_rjafroc(tmp_path / "vd.xlsx"), _ids(tmp_path / "vd.xlsx"))


def test_cnsight_study_convert_writes_both_and_refuses_wrong_suffixes(tmp_path, caplog):
    reads = tmp_path / "reads.csv"
    write_reads(str(reads))
    out_i, out_x = tmp_path / "a.imrmc", tmp_path / "a.xlsx"
    argv = ["convert", "--reads", str(reads), "--imrmc", str(out_i), "--rjafroc", str(out_x)]
    assert study_main(argv) == 0
    assert out_i.is_file() and out_x.is_file() and ids_path(out_i).is_file()
    assert study_main(["convert", "--reads", str(reads), "--imrmc", str(tmp_path / "a.txt")]) == 2
    assert "need the .imrmc suffix" in caplog.text
    assert study_main(["convert", "--reads", str(reads), "--rjafroc", str(tmp_path / "a.xls")]) == 2
    assert not (tmp_path / "a.txt").exists() and not (tmp_path / "a.xls").exists()
    assert np.isfinite(load_reads(reads).ratings).all()
