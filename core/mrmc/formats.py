"""Reads in the input formats of the MRMC tools that do not read CNSight's long-format CSV.

- ``.imrmc`` - the input file of iMRMC (FDA/DIDSR; Java application and R package) and of
  RJafroc's ``DfReadDataFile(..., format = "iMRMC")``: free text, then ``NR:``, ``N0:``, ``N1:``,
  ``NM:`` (readers, normal cases, abnormal cases, modalities), a line ``BEGIN DATA:``, then one
  line ``readerID,caseID,modalityID,score`` per read, preceded by one truth line per case with
  reader -1 and modality 0 (``-1,caseID,0,truth``, truth 0 or 1). As in DIDSR's example files.
- RJafroc's Excel ROC format (``DfReadDataFile(file.xlsx)``, the 3-sheet "old" format): sheet
  ``TRUTH`` (CaseID, LesionID, Weight: LesionID 0 for a normal case, 1 for an abnormal one),
  ``FP`` (ReaderID, ModalityID, CaseID, FP_Rating: the ratings of the normal cases) and ``TP``
  (ReaderID, ModalityID, CaseID, LesionID, TP_Rating: the ratings of the abnormal cases).

Both want integer ids (RJafroc refuses other case ids), so readers, treatments and cases are
numbered 1, 2, ... in the reads' order and the numbering is written beside the file as
``<file>.ids.csv`` (kind, id, name). MRMCaov reads the long-format CSV itself
(``mrmc(empirical_auc(truth, rating), treatment, reader, case, data = read.csv(...))``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.mrmc.reads import Reads


def _ids(reads: Reads) -> dict[str, dict[str, int]]:
    return {
        "reader": {r: i + 1 for i, r in enumerate(reads.readers)},
        "treatment": {t: i + 1 for i, t in enumerate(reads.treatments)},
        "case": {c: i + 1 for i, c in enumerate(reads.cases)},
    }


def ids_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".ids.csv")


def _write_ids(path: Path, ids: dict[str, dict[str, int]]) -> Path:
    out = ids_path(path)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["kind", "id", "name"])
        for kind, mapping in ids.items():
            for name, number in mapping.items():
                w.writerow([kind, number, name])
    return out


def _score(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def write_imrmc(path: str | Path, reads: Reads, description: str = "CNSight reader study") -> Path:
    """Write ``path`` (.imrmc) and its id map; returns the id map's path."""
    path = Path(path)
    ids = _ids(reads)
    lines = [
        description.replace("\n", " "),
        "",
        f"NR: {len(reads.readers)}",
        f"N0: {reads.n_negative}",
        f"N1: {reads.n_positive}",
        f"NM: {len(reads.treatments)}",
        "",
        "BEGIN DATA:",
    ]
    lines += [
        f"-1,{ids['case'][c]},0,{int(t)}" for c, t in zip(reads.cases, reads.truth, strict=True)
    ]
    for i, t in enumerate(reads.treatments):
        for j, r in enumerate(reads.readers):
            for k, c in enumerate(reads.cases):
                lines.append(
                    f"{ids['reader'][r]},{ids['case'][c]},{ids['treatment'][t]},{_score(reads.ratings[i, j, k])}"
                )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _write_ids(path, ids)


def write_rjafroc_xlsx(path: str | Path, reads: Reads) -> Path:
    """Write RJafroc's Excel ROC file and its id map; returns the id map's path."""
    from openpyxl import Workbook

    path = Path(path)
    ids = _ids(reads)
    wb = Workbook()
    truth = wb.active
    truth.title = "TRUTH"
    truth.append(["CaseID", "LesionID", "Weight"])
    for c, t in zip(reads.cases, reads.truth, strict=True):
        truth.append([ids["case"][c], int(t), int(t)])
    fp, tp = wb.create_sheet("FP"), wb.create_sheet("TP")
    fp.append(["ReaderID", "ModalityID", "CaseID", "FP_Rating"])
    tp.append(["ReaderID", "ModalityID", "CaseID", "LesionID", "TP_Rating"])
    for i, t in enumerate(reads.treatments):
        for j, r in enumerate(reads.readers):
            for k, c in enumerate(reads.cases):
                key = [ids["reader"][r], ids["treatment"][t], ids["case"][c]]
                rating = float(reads.ratings[i, j, k])
                if reads.truth[k]:
                    tp.append([*key, 1, rating])
                else:
                    fp.append([*key, rating])
    wb.save(path)
    return _write_ids(path, ids)
