"""The prediction tables' columns: ONE definition for ``cnsight-predict``, ``cnsight-eval``
and the app's CSV export (the command-line contract in docs/cli.md).

images.csv:   patient_id,path,frame,pred,p_<class>...,error,assessable,reason,ood_score,plane[,label]
patients.csv: patient_id,pred,p_<class>...,n_images,rule,top_images,n_views,flags,calibrated[,label]

Every cell is written through ``writer`` (``csv_cell``): text starting with ``=``, ``+``,
``-``, ``@``, a tab or a line break gets a leading ``'`` (OWASP rule against CSV injection).
``label`` (the truth) is appended only where it is known (evaluation). Probabilities are
written with 6 decimals; a row whose image could not be read has empty ``pred`` and
probabilities and says why in ``error``. An image outside what the model was validated for
has ``assessable`` 0, ``pred`` = ``not_assessable`` and the reason code; its ``p_`` columns
still hold the model's raw output (research use; the app hides it unless asked). A patient
without any assessable view has ``pred`` = ``not_assessable`` and empty probabilities.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO

from .aggregation import NOT_ASSESSABLE, PatientPrediction
from .domain import DomainCheck

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection):
#: ``=cmd|' /C calc'!A0`` as a Patient ID would run a command when the CSV is opened.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value) -> object:
    """One cell as it is safe to write: text that starts like a formula gets a leading ``'``
    (the OWASP rule: spreadsheets show it as text; numbers such as ``-0.5`` are left alone),
    and characters that cannot be written as UTF-8 (lone surrogates from a file name that is
    not valid UTF-8) become ``\\udcff`` escapes instead of stopping the run mid-file."""
    if not isinstance(value, str):
        return value
    text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.startswith(FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


class SafeCsvWriter:
    """``csv.writer`` whose rows go through ``csv_cell``: every CSV CNSight writes uses it."""

    def __init__(self, f: IO[str], **kwargs):
        self._writer = csv.writer(f, **kwargs)

    def writerow(self, row: Iterable) -> None:
        self._writer.writerow([csv_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def writer(f: IO[str], **kwargs) -> SafeCsvWriter:
    """A CSV writer that neutralises formula cells and unencodable characters (``csv_cell``)."""
    return SafeCsvWriter(f, **kwargs)


IMAGE_ASSESSMENT_COLUMNS = ["assessable", "reason", "ood_score", "plane"]
PATIENT_ASSESSMENT_COLUMNS = ["n_views", "flags", "calibrated"]


def prob_columns(class_names: Sequence[str]) -> list[str]:
    return [f"p_{c}" for c in class_names]


def _probs(probs: Iterable[float] | None, n: int) -> list[str]:
    if probs is None:
        return [""] * n
    return ["" if p != p else f"{float(p):.6f}" for p in probs]  # NaN (not assessable): empty


def image_header(class_names: Sequence[str], with_label: bool = False) -> list[str]:
    return [
        "patient_id", "path", "frame", "pred", *prob_columns(class_names), "error",
        *IMAGE_ASSESSMENT_COLUMNS,
    ] + (["label"] if with_label else [])  # fmt: skip


def image_row(
    class_names: Sequence[str],
    patient_id: str,
    path: str,
    frame: int | None,
    probs: Sequence[float] | None,
    error: str = "",
    label: str | None | bool = False,
    check: DomainCheck | None = None,
    ood_score: float | None = None,
    plane: str | None = None,
) -> list:
    """One image (or frame). ``probs=None`` with an ``error`` for a file not classified;
    ``check``: the domain check of a classified image (None: assessable, not checked);
    ``label``: the truth, appended when not ``False`` (use with ``with_label=True`` headers)."""
    assessable = check is None or check.assessable
    if probs is None:
        pred, assessment = "", ["", "", "", ""]
    else:
        pred = class_names[max(range(len(probs)), key=lambda i: probs[i])]
        pred = pred if assessable else NOT_ASSESSABLE
        score = "" if ood_score is None else f"{float(ood_score):.4f}"
        reason = "" if check is None else check.reason
        assessment = [int(assessable), reason, score, plane or ""]
    row = [
        patient_id,
        path,
        "" if frame is None else frame,
        pred,
        *_probs(probs, len(class_names)),
        error,
        *assessment,
    ]
    return row if label is False else [*row, label or ""]


def prediction_row(class_names: Sequence[str], patient_id: str, path: str, prediction) -> list:
    """One image row from an ``ImagePrediction`` (probabilities, domain check, score, plane);
    ``path`` is what the row names the image by (the file, or a de-identified label)."""
    return image_row(
        class_names, patient_id, path, prediction.ref.frame, prediction.probs,
        check=prediction.check, ood_score=prediction.ood_score, plane=prediction.plane,
    )  # fmt: skip


def patient_header(class_names: Sequence[str], with_label: bool = False) -> list[str]:
    return [
        "patient_id", "pred", *prob_columns(class_names), "n_images", "rule", "top_images",
        *PATIENT_ASSESSMENT_COLUMNS,
    ] + (["label"] if with_label else [])  # fmt: skip


def _file_name(key: str) -> str:
    return Path(key).name


def patient_row(
    class_names: Sequence[str],
    patient_id: str,
    verdict: PatientPrediction | None,
    rule: str,
    label: str | None | bool = False,
    image_name: Callable[[str], str] = _file_name,
) -> list:
    """One patient from a ``PatientPrediction`` (``None``: no image could be classified).
    ``image_name`` turns an image key into what ``top_images`` shows (de-identified callers
    pass case-image labels instead of file names)."""
    if verdict is None:
        row = [patient_id, "", *_probs(None, len(class_names)), 0, rule, "", 0, "", ""]
    else:
        top = ";".join(f"{image_name(k)}={p:.3f}" for k, p in verdict.drivers)
        row = [
            patient_id,
            verdict.pred,
            *_probs(verdict.probs, len(class_names)),
            verdict.n_images,
            verdict.rule,
            top,
            verdict.n_views,
            ";".join(verdict.flags),
            int(verdict.calibrated),
        ]
    return row if label is False else [*row, label or ""]
