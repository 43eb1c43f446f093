"""``cnsight-predict --dicom-out DIR``: the DICOM result objects of every DICOM study.

For each patient (study) ``cnsight-predict`` has predicted, ``core.dicom_out.write_study_outputs``
writes the Comprehensive SR, the heatmap Secondary Captures of the driving views and the PDF
report as Encapsulated PDF to ``DIR/<StudyInstanceUID>/`` (docs/dicom-outputs.md). A study of
PNG/JPEG files has no Study Instance UID to attach results to: it is skipped, and the output
says so. A DICOM study that is refused (images of two studies, a header without its UIDs, a
folder that cannot be written) is reported as an error, the run goes on, and it ends with
exit code 2 so that a script notices.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DicomOutputError, NotADicomStudyError

if TYPE_CHECKING:
    from ..aggregation import PatientPrediction
    from ..bundle import ModelCard
    from ..predictor import ImagePrediction
    from ..records import Patient

log = logging.getLogger("cnsight.predict")

#: The exit code of a run in which a DICOM study's objects were refused.
REFUSED_EXIT = 2


def add_dicom_out_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dicom-out",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write DICOM results for every DICOM study to DIR/<StudyInstanceUID>/: a "
        "Structured Report, heatmap images of the driving views (Secondary Capture) and the "
        "report (Encapsulated PDF); studies of non-DICOM files are skipped",
    )


class StudyDicomWriter:
    """Writes each study's DICOM objects as ``cnsight-predict`` finishes it."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        # highdicom logs every module it copies at INFO: noise in a CLI run's output.
        logging.getLogger("highdicom").setLevel(logging.WARNING)
        self.n_written = self.n_skipped = self.n_refused = 0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StudyDicomWriter | None:
        """None without ``--dicom-out``; ValueError (exit 2, before anything is read or
        written) for ``--deidentify``: the objects go into the patient's own study and carry
        the patient module by design."""
        if getattr(args, "dicom_out", None) is None:
            return None
        if args.deidentify:
            raise ValueError(
                "--dicom-out writes results into the patient's own DICOM study (with the "
                "patient's name and ids); it cannot be combined with --deidentify"
            )
        return cls(args.dicom_out)

    def study(
        self,
        patient: Patient,
        preds: list[ImagePrediction],
        verdict: PatientPrediction | None,
        card: ModelCard,
    ) -> None:
        """Write the study's objects (or say why not); ``card``: the model that predicted."""
        from ..dicom_out import write_study_outputs  # highdicom: only when asked for

        who = f"patient {patient.patient_id or '(no id)'}"
        if verdict is None or not preds:
            self.n_skipped += 1
            log.warning("DICOM results for %s skipped: no image of it could be predicted", who)
            return
        try:
            paths = write_study_outputs(self.out_dir, preds, verdict, card)
        except NotADicomStudyError as exc:
            self.n_skipped += 1
            log.warning("DICOM results for %s skipped: %s", who, exc)
            return
        except DicomOutputError as exc:
            self.n_refused += 1
            log.error("DICOM results for %s not written: %s", who, exc)
            return
        self.n_written += 1
        log.info("DICOM results for %s: %d objects in %s", who, len(paths), paths[0].parent)

    def exit_code(self, code: int) -> int:
        """The run's exit code: ``REFUSED_EXIT`` if a DICOM study was refused, else ``code``."""
        log.info(
            "DICOM results: %d studies written, %d skipped, %d refused (in %s)",
            self.n_written, self.n_skipped, self.n_refused, self.out_dir,
        )  # fmt: skip
        return REFUSED_EXIT if self.n_refused else code
