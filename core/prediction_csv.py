"""The prediction tables' columns: ONE definition for ``cnsight-predict``, ``cnsight-eval``
and the app's CSV export (the DESIGN's command-line contract).

images.csv:   patient_id,path,frame,pred,p_<class>...,error[,label]
patients.csv: patient_id,pred,p_<class>...,n_images,rule,top_images[,label]

``label`` (the truth) is appended only where it is known (evaluation). Probabilities are
written with 6 decimals; a row whose image could not be classified has empty ``pred`` and
probabilities and says why in ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path


def prob_columns(class_names: Sequence[str]) -> list[str]:
    return [f"p_{c}" for c in class_names]


def _probs(probs: Iterable[float] | None, n: int) -> list[str]:
    return [f"{float(p):.6f}" for p in probs] if probs is not None else [""] * n


def image_header(class_names: Sequence[str], with_label: bool = False) -> list[str]:
    return ["patient_id", "path", "frame", "pred", *prob_columns(class_names), "error"] + (
        ["label"] if with_label else []
    )


def image_row(
    class_names: Sequence[str],
    patient_id: str,
    path: str,
    frame: int | None,
    probs: Sequence[float] | None,
    error: str = "",
    label: str | None | bool = False,
) -> list:
    """One image (or frame). ``probs=None`` with an ``error`` for a file not classified;
    ``label``: the truth, appended when not ``False`` (use with ``with_label=True`` headers)."""
    pred = class_names[max(range(len(probs)), key=lambda i: probs[i])] if probs is not None else ""
    row = [
        patient_id,
        path,
        "" if frame is None else frame,
        pred,
        *_probs(probs, len(class_names)),
        error,
    ]
    return row if label is False else [*row, label or ""]


def patient_header(class_names: Sequence[str], with_label: bool = False) -> list[str]:
    return ["patient_id", "pred", *prob_columns(class_names), "n_images", "rule", "top_images"] + (
        ["label"] if with_label else []
    )


def _file_name(key: str) -> str:
    return Path(key).name


def patient_row(
    class_names: Sequence[str],
    patient_id: str,
    verdict,
    rule: str,
    label: str | None | bool = False,
    image_name: Callable[[str], str] = _file_name,
) -> list:
    """One patient from a ``PatientPrediction`` (``None``: no image could be classified).
    ``image_name`` turns an image key into what ``top_images`` shows (de-identified callers
    pass case-image labels instead of file names)."""
    if verdict is None:
        row = [patient_id, "", *_probs(None, len(class_names)), 0, rule, ""]
    else:
        top = ";".join(f"{image_name(k)}={p:.3f}" for k, p in verdict.drivers)
        row = [
            patient_id,
            verdict.pred,
            *_probs(verdict.probs, len(class_names)),
            verdict.n_images,
            verdict.rule,
            top,
        ]
    return row if label is False else [*row, label or ""]
