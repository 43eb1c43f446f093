"""cnsight-anonymise: a de-identified copy of a study (docs/deidentification.md).

    cnsight-anonymise INPUT... --out DIR

Every image and DICOM file found at INPUT (files, folders, DICOMDIRs, manifests: the same
discovery as cnsight-predict) is written to ``DIR/case-NNN/image-NN.dcm|.png`` with burned-in
text masked in every frame (geometry + Tesseract OCR) and, for DICOM, the header
de-identified (core/dicom_deidentify.py). Nothing of the original paths or file names is
written. The copy is built in a hidden ``.DIR.partial-*`` folder beside DIR and renamed to DIR
only when every file is done, so DIR is never half-written. A file that cannot be read or
decoded is reported on stderr and skipped (exit code 1); exit code 2 when nothing could be
written, DIR is not empty, or Tesseract is missing (OCR is required here: a copy that may
still show names is not an anonymised copy).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .. import RESEARCH_USE_ONLY
from ..errors import CNSightError, DiscoveryError

log = logging.getLogger("cnsight.anonymise")

SUMMARY_NAME = "anonymise.json"


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnsight-anonymise",
        description=(
            "Write a de-identified copy of a study: burned-in text masked (every frame), DICOM "
            "headers cleaned (PS3.15 basic profile, retain-list), UIDs replaced consistently, "
            f"files renamed case-NNN/image-NN. {RESEARCH_USE_ONLY}"
        ),
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="files or folders")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="output folder (new or empty)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = get_args_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run(args)
    except (CNSightError, OSError) as exc:
        print(f"cnsight-anonymise: error: {exc}", file=sys.stderr)
        return 2


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DiscoveryError(f"--out {out} exists and is not an empty folder")


def run(args: argparse.Namespace) -> int:
    from ..anonymise import anonymise_dicom, anonymise_raster
    from ..burned_text import check_ocr
    from ..deidentify import Pseudonyms
    from ..dicom_deidentify import UidMap
    from ..discovery import discover
    from ..imaging.detect import classify_file

    out = args.out.absolute()
    _check_out(out)
    tesseract = check_ocr()
    cohort = discover(args.inputs)
    for error in cohort.errors:
        print(f"cnsight-anonymise: skipped {error.path}: {error.message}", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    pseudonyms, uids = Pseudonyms(), UidMap()
    written, skipped = 0, len(cohort.errors)
    try:
        for patient in cohort.patients:
            case = pseudonyms.case(patient.patient_id)
            by_file: dict[Path, list] = {}
            for ref in patient.images:
                by_file.setdefault(ref.path, []).append(ref)
            for path, refs in by_file.items():
                label = pseudonyms.image(patient.patient_id, str(path))
                try:
                    if classify_file(path)[0].startswith("DICOM"):
                        anonymise_dicom(refs, staging / f"{label}.dcm", case, uids)
                    else:
                        anonymise_raster(refs[0], staging / f"{label}.png")
                except (CNSightError, OSError) as exc:
                    skipped += 1
                    print(f"cnsight-anonymise: skipped {path}: {exc}", file=sys.stderr)
                    continue
                written += 1
                log.info("%s -> %s", path, label)
        if not written:
            raise DiscoveryError("no file could be anonymised; nothing written")
        summary = {
            "files_written": written,
            "files_skipped": skipped,
            "patients": len({p.patient_id for p in cohort.patients}),
            "tesseract": tesseract,
            "method": "burned-in text: geometric mask + Tesseract OCR lines, every frame; "
            "DICOM: PS3.15 basic profile (retain list), UIDs replaced, uncompressed",
        }
        (staging / SUMMARY_NAME).write_text(json.dumps(summary, indent=1), encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty (checked above): replaced by the finished copy
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("wrote %d file(s) to %s (%d skipped)", written, out, skipped)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
