"""Header-only probing: what images a file holds, without decoding any pixel."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import ImageReadError
from core.imaging.detect import classify_file
from core.imaging.dicom_decode import decoder_for
from core.imaging.dicom_header import PROBE_TAGS, check_pixel_data, read_dicom_header
from core.imaging.raster import probe_raster
from core.records import ImageRef


@dataclass(frozen=True)
class ProbedFile:
    """What probing one file found: its images (one per frame) and what discovery sorts by."""

    path: Path
    is_dicom: bool
    refs: tuple[ImageRef, ...]
    instance_number: int | None = None  # (0020,0013) Instance Number
    patient_id_in_header: bool = False  # False: patient_id is the parent folder's name


def _text(value) -> str:
    return str(value).strip() if value not in (None, "") else ""


def _instance_number(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _probe_dicom(path: Path, force: bool) -> ProbedFile:
    header = read_dicom_header(path, force=force, specific_tags=PROBE_TAGS)
    n_frames = check_pixel_data(header)
    decoder_for(header)  # an undecodable transfer syntax is reported at scan time
    ds = header.ds
    patient_id = _text(ds.get("PatientID"))
    base = ImageRef(
        path=path,
        patient_id=patient_id or path.parent.name,
        study_uid=_text(ds.get("StudyInstanceUID")),
        modality=_text(ds.get("Modality")) or None,
        n_frames=n_frames,
    )
    refs = (base,) if n_frames == 1 else tuple(replace(base, frame=i) for i in range(n_frames))
    return ProbedFile(
        path=path,
        is_dicom=True,
        refs=refs,
        instance_number=_instance_number(ds.get("InstanceNumber")),
        patient_id_in_header=bool(patient_id),
    )


def _probe(path: Path) -> ProbedFile:
    fmt, head = classify_file(path)
    if fmt in ("DICOM", "DICOM?"):
        return _probe_dicom(path, force=fmt == "DICOM?")
    probe_raster(path, head, fmt)
    ref = ImageRef(path=path, patient_id=path.parent.name)
    return ProbedFile(path=path, is_dicom=False, refs=(ref,))


def probe_details(path: str | Path) -> ProbedFile:
    """Probe ``path`` (header only) and keep what discovery needs to group and sort it.

    Raises ImageReadError (never a raw library error) when the file cannot be used.
    """
    try:
        return _probe(Path(path))
    except ImageReadError:
        raise
    except MemoryError as exc:
        raise ImageReadError(path, "not enough memory to read the header") from exc
    except Exception as exc:  # never let a raw library error escape
        raise ImageReadError(path, f"cannot read header: {type(exc).__name__}: {exc}") from exc


def probe_file(path: str | Path) -> list[ImageRef]:
    """The images in ``path`` from its header only: one ImageRef per frame of a multi-frame
    DICOM (frame 0..n-1), one with frame None otherwise.

    DICOM files fill patient_id / study_uid / modality from (0010,0020) Patient ID,
    (0020,000D) Study Instance UID and (0008,0060) Modality (patient_id falls back to the
    parent folder's name); raster files get the parent folder's name as patient_id.
    Raises ImageReadError with a specific reason for anything that cannot be read.
    """
    return list(probe_details(path).refs)
