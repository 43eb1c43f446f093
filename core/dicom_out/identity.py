"""Who made the objects: CNSight and the model, the same in the SR, the images and the PDF.

The model card has a name and digests but no version field; the version CNSight reports is
the card's creation time (when the bundle was trained and sealed), which tells two models of
one name apart, and the weights digest (in the algorithm parameters and the header's Software
Versions) identifies the exact weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import highdicom as hd

from .. import RESEARCH_USE_ONLY, __version__

if TYPE_CHECKING:
    from ..bundle import ModelCard

MANUFACTURER = "CNSight"
#: Series numbers of CNSight's objects: after the acquisition series of a study (which number
#: from 1), one series per kind of object, so a viewer groups them.
SR_SERIES_NUMBER, SC_SERIES_NUMBER, PDF_SERIES_NUMBER = 9001, 9002, 9003
#: RESEARCH_USE_ONLY in plain ASCII: DICOM's default character repertoire has no em dash, and
#: the burned-in text is drawn with OpenCV's Hershey fonts (ASCII only).
RESEARCH_USE_ASCII = RESEARCH_USE_ONLY.replace("\u2014", "-")


def lo(text: str) -> str:
    """A value fitting LO (64 characters, no backslash)."""
    return text.replace("\\", "/")[:64]


def model_version(card: ModelCard) -> str:
    if card.created:
        return lo(card.created)
    return lo(f"weights {card.weights_sha256[:16]}")


def algorithm_parameters(card: ModelCard, rule: str) -> list[str]:
    params = [f"weights_sha256={card.weights_sha256}"]
    if card.seal_sha256:
        params.append(f"seal_sha256={card.seal_sha256}")
    params += [f"architecture={card.architecture}", f"aggregation={rule}", f"cnsight={__version__}"]
    return params


def algorithm_identification(card: ModelCard, rule: str) -> hd.sr.AlgorithmIdentification:
    """TID 4019: the model's name, version and digests (``hd.sr.AlgorithmIdentification``)."""
    return hd.sr.AlgorithmIdentification(
        name=card.name,
        version=model_version(card),
        parameters=algorithm_parameters(card, rule),
        manufacturer=MANUFACTURER,
    )


def equipment(card: ModelCard) -> dict:
    """General Equipment attributes for ``hd.SOPClass`` subclasses."""
    return {
        "manufacturer": MANUFACTURER,
        "manufacturer_model_name": lo(card.name),
        "software_versions": [f"CNSight {__version__}", lo(card.weights_sha256)],
    }


#: The objects' character set: UTF-8 (ISO_IR 192), since the wording has dashes and warning
#: signs and the patient's name may be in any script (pydicom decoded it from the source's).
CHARACTER_SET = "ISO_IR 192"


def series_description(kind: str) -> str:
    return lo(f"CNSight {kind} - research use only")
