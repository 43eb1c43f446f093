"""The coded concepts of CNSight's DICOM results, in one place (docs/dicom-outputs.md lists
them with the reason for each).

Standard codes where DICOM (DCM), SNOMED CT (SCT) or UCUM has the concept exactly; a private
coding scheme, ``99CNSIGHT`` (DICOM reserves designators starting "99" for local schemes,
PS3.16 8), where it does not: the classes of a bundle's taxonomy (a bundle may declare any
class list, and a mapping to SNOMED CT disorders would claim an equivalence nobody has
validated), the aggregation rules, the flags and the reasons an image is not assessable.
"""

from __future__ import annotations

import highdicom as hd
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom.sr.codedict import codes

from ..aggregation import FLAGS, NOT_ASSESSABLE, RULES
from ..domain import REASONS
from ..heatmap_overlay import FORWARD_CAM, GRAD_CAM_METHODS
from ..taxonomy import display_name

SCHEME = "99CNSIGHT"
SCHEME_NAME = "CNSight local codes"


def private(value: str, meaning: str) -> hd.sr.CodedConcept:
    # Code Meaning is LO (64 characters); the full wording goes in TEXT items beside it.
    return hd.sr.CodedConcept(value=value, scheme_designator=SCHEME, meaning=meaning[:64])


def standard(code) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(code.value, code.scheme_designator, code.meaning)


#: The coding scheme declared in the header (Coding Scheme Identification Sequence).
SCHEME_IDENTIFICATION = CodingSchemeIdentificationItem(
    designator=SCHEME, name=SCHEME_NAME, responsible_organization="CNSight"
)

# --- standard concepts -------------------------------------------------------------------------
TITLE = standard(codes.DCM.ImagingMeasurementReport)  # (126000, DCM) TID 1500's title
PROCEDURE = standard(codes.SCT.UltrasoundScanObstetric)  # (268445003, SCT)
FINDING = standard(codes.DCM.Finding)  # (121071, DCM) the class a group reports
PROBABILITY = standard(codes.DCM.Probability)  # (122157, DCM) a calibrated probability
SCORE = standard(codes.SCT.Score)  # (246262008, SCT) an uncalibrated patient score
NO_UNITS = standard(codes.UCUM.NoUnits)  # ("1", UCUM) probabilities and scores are in [0, 1]
SUMMARY = standard(codes.DCM.Summary)  # (121111, DCM) the verdict in words
COMMENT = standard(codes.DCM.Comment)  # (121106, DCM) rule, flags, reason, research use
YES = standard(codes.SCT.Yes)
NO = standard(codes.SCT.No)
VISUAL_EXPLANATION = standard(codes.DCM.VisualExplanation)  # (130401, DCM) the heatmap
CLASS_ACTIVATION = standard(codes.DCM.ClassActivation)  # (130402, DCM) CAM, Score-CAM
GRADIENT_CLASS_ACTIVATION = standard(codes.DCM.GradientWeightedClassActivation)  # (130403)
SALIENCY = standard(codes.DCM.Saliency)  # (130404, DCM) class-agnostic maps (Eigen-CAM)

# --- private concepts --------------------------------------------------------------------------
ASSESSABLE = private("assessable", "Assessable by the model")
NOT_ASSESSABLE_REASON = private("reason", "Reason not assessable")
AGGREGATION_RULE = private("rule", "Patient-level aggregation rule")
FLAG = private("flag", "Verdict flag")
PLANE = private("plane", "Plane seen by the model")
NOT_ASSESSABLE_FINDING = private(NOT_ASSESSABLE, "Not assessable")


def class_code(class_name: str) -> hd.sr.CodedConcept:
    """A bundle's class as a code: the class name (a Long Code Value past 16 characters)."""
    return private(class_name, display_name(class_name))


def rule_code(rule: str) -> hd.sr.CodedConcept:
    if rule not in RULES:
        raise ValueError(f"unknown aggregation rule {rule!r}")
    return private(rule, rule.replace("_", " "))


def flag_code(flag: str) -> hd.sr.CodedConcept:
    return private(flag, FLAGS[flag])


def reason_code(reason: str) -> hd.sr.CodedConcept:
    return private(reason, REASONS.get(reason, reason))


#: Heatmap method -> the DICOM kind of visual explanation it is (CID 7xxx "visual explanation"
#: codes): CAM and Score-CAM weight class activations, the Grad-CAM family by gradients,
#: Eigen-CAM is class-agnostic (a saliency map).
_HEATMAP_KINDS = {
    FORWARD_CAM: CLASS_ACTIVATION,
    "scorecam": CLASS_ACTIVATION,
    "gradcam": GRADIENT_CLASS_ACTIVATION,
    "gradcam++": GRADIENT_CLASS_ACTIVATION,
    "layercam": GRADIENT_CLASS_ACTIVATION,
    "eigencam": SALIENCY,
}


def heatmap_kind(method: str) -> hd.sr.CodedConcept:
    if method not in _HEATMAP_KINDS:
        raise ValueError(f"unknown heatmap method {method!r}")
    return _HEATMAP_KINDS[method]


def heatmap_label(method: str, layer: str) -> str:
    """The method in words, e.g. "CAM (class activation map of layer4, from the forward pass)"."""
    if method == FORWARD_CAM:
        return f"CAM (class activation map of {layer}, from the forward pass)"
    return f"{GRAD_CAM_METHODS[method][0]} on {layer} (pytorch-grad-cam)"
