"""The Comprehensive SR of a study's AI result, as a TID 1500 Measurement Report (highdicom).

IHE AI Results (AIR) encodes an AI's findings as TID 1500 measurement groups with the
algorithm identified in each group (TID 4019), which is what viewers that understand AI
results (OHIF, the PACS' SR viewers) read. The tree (docs/dicom-outputs.md draws it):

    Imaging Measurement Report (126000, DCM)                           TID 1500
      language, observer = the device (CNSight, model name), procedure = obstetric US
      Image Library: every source image
      Imaging Measurements
        Measurement Group "Patient-level result"                       TID 1501
          Finding = the verdict's class, or "Not assessable"
          Algorithm Name / Version / Parameters (weights sha256, ...)  TID 4019
          Probability (122157, DCM) or Score (246262008, SCT) per class, the class as a
            concept modifier (calibrated probability only when the bundle says so)
          Aggregation rule (code + rule text), flags (single view, views disagree, ...)
          Summary = the verdict in words; Comment = the research-use line
          Source of Measurement = the driving views (SOP Instance UID, frame)
        Measurement Group "Image N: file [frame]"  (one per predicted image)
          Finding = the image's most probable class, or "Not assessable"
          Assessable Yes/No, the reason code and sentence when not
          Probability per class (assessable images only), plane, heatmap method
          Source of Measurement = that image (SOP Class/Instance UID, frame number)
      Comment = "Research use only - not for diagnosis"

The document is COMPLETE and UNVERIFIED: no person has checked an AI result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes as sr_codes
from pydicom.uid import generate_uid

from ..verdict_wording import outside_sentence, plane_text, verdict_details, verdict_line
from . import codes
from .identity import (
    CHARACTER_SET,
    RESEARCH_USE_ASCII,
    SR_SERIES_NUMBER,
    algorithm_identification,
    equipment,
    series_description,
)
from .source import SourceImage, SourceStudy

if TYPE_CHECKING:
    from ..aggregation import PatientPrediction
    from ..bundle import ModelCard
    from ..predictor import ImagePrediction

PATIENT_GROUP = "Patient-level result"
Relationship = hd.sr.RelationshipTypeValues


def _text(name: hd.sr.CodedConcept, value: str) -> hd.sr.TextContentItem:
    return hd.sr.TextContentItem(name=name, value=value, relationship_type=Relationship.CONTAINS)


def _code(name: hd.sr.CodedConcept, value: hd.sr.CodedConcept) -> hd.sr.QualitativeEvaluation:
    return hd.sr.QualitativeEvaluation(name=name, value=value)


def _class_figures(
    names: Sequence[str], probs: np.ndarray, concept: hd.sr.CodedConcept
) -> list[hd.sr.Measurement]:
    """One NUM per class, the class named by a HAS CONCEPT MOD Finding item under it."""
    figures = []
    for name, p in zip(names, probs, strict=True):
        measurement = hd.sr.Measurement(name=concept, value=float(p), unit=codes.NO_UNITS)
        measurement[0].ContentSequence = hd.sr.ContentSequence(
            [
                hd.sr.CodeContentItem(
                    name=codes.FINDING,
                    value=codes.class_code(name),
                    relationship_type=Relationship.HAS_CONCEPT_MOD,
                )
            ]
        )
        figures.append(measurement)
    return figures


def _reference(image: SourceImage) -> hd.sr.SourceImageForMeasurementGroup:
    return hd.sr.SourceImageForMeasurementGroup(
        referenced_sop_class_uid=image.sop_class_uid,
        referenced_sop_instance_uid=image.sop_instance_uid,
        referenced_frame_numbers=None if image.frame_number is None else [image.frame_number],
    )


def _group(
    label: str,
    finding: hd.sr.CodedConcept,
    algorithm: hd.sr.AlgorithmIdentification,
    measurements: list[hd.sr.Measurement],
    evaluations: list[hd.sr.QualitativeEvaluation],
    texts: list[hd.sr.TextContentItem],
    sources: list[SourceImage],
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=label),
        finding_type=finding,
        algorithm_id=algorithm,
        measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
        source_images=[_reference(s) for s in sources] or None,
    )
    # TID 1501 is extensible: the wording a reader needs (rule text, reasons) as TEXT items.
    group[0].ContentSequence.extend(texts)
    return group


def patient_group(
    study: SourceStudy,
    verdict: PatientPrediction,
    card: ModelCard,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    algorithm = algorithm_identification(card, verdict.rule)
    evaluations = [_code(codes.AGGREGATION_RULE, codes.rule_code(verdict.rule))]
    texts = [_text(codes.SUMMARY, verdict_line(verdict))]
    if not verdict.assessable:
        texts.append(_text(codes.COMMENT, verdict_details(verdict)))
        return _group(
            PATIENT_GROUP, codes.NOT_ASSESSABLE_FINDING, algorithm, [],
            [_code(codes.ASSESSABLE, codes.NO), *evaluations], texts, [],
        )  # fmt: skip
    evaluations = [_code(codes.ASSESSABLE, codes.YES), *evaluations]
    evaluations += [_code(codes.FLAG, codes.flag_code(f)) for f in verdict.flags]
    texts += [_text(codes.COMMENT, line) for line in verdict_details(verdict).splitlines()]
    texts.append(_text(codes.COMMENT, RESEARCH_USE_ASCII))
    concept = codes.PROBABILITY if verdict.calibrated else codes.SCORE
    drivers = [study.images[key] for key, _p in verdict.drivers if key in study.images]
    return _group(
        PATIENT_GROUP, codes.class_code(verdict.pred), algorithm,
        _class_figures(verdict.class_names, verdict.probs, concept), evaluations, texts, drivers,
    )  # fmt: skip


def image_group(
    number: int,
    image: SourceImage,
    pred: ImagePrediction,
    card: ModelCard,
    rule: str,
    heatmap_method: str,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    names = card.class_names
    label = f"Image {number}: {image.ref.name}"
    algorithm = algorithm_identification(card, rule)
    if not pred.assessable:
        evaluations = [
            _code(codes.ASSESSABLE, codes.NO),
            _code(codes.NOT_ASSESSABLE_REASON, codes.reason_code(pred.check.reason)),
        ]
        texts = [_text(codes.COMMENT, outside_sentence(pred.check))]
        return _group(
            label, codes.NOT_ASSESSABLE_FINDING, algorithm, [], evaluations, texts, [image]
        )
    evaluations = [
        _code(codes.ASSESSABLE, codes.YES),
        _code(codes.VISUAL_EXPLANATION, codes.heatmap_kind(heatmap_method)),
    ]
    texts = [
        _text(codes.COMMENT, f"Heatmap: {codes.heatmap_label(heatmap_method, card.heatmap_layer)}")
    ]
    if pred.plane is not None:
        texts.append(_text(codes.PLANE, plane_text(pred)))
    top = names[pred.pred_index]
    return _group(
        label, codes.class_code(top), algorithm,
        _class_figures(names, pred.probs, codes.PROBABILITY), evaluations, texts, [image],
    )  # fmt: skip


def build_sr(
    study: SourceStudy,
    predictions: Sequence[ImagePrediction],
    verdict: PatientPrediction,
    card: ModelCard,
    heatmap_method: str,
    series_uid: str,
) -> hd.sr.ComprehensiveSR:
    """The SR document: the patient group first, then one group per image in reading order."""
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        # One observer UID per model (from its weights digest), so a PACS can tell the results
        # of one model from another's across studies.
        uid=generate_uid(prefix=None, entropy_srcs=["cnsight-model", card.weights_sha256]),
        name="CNSight",
        manufacturer_name="CNSight",
        model_name=card.name[:64],
    )
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=sr_codes.DCM.Device, observer_identifying_attributes=device
        )
    )
    groups = [patient_group(study, verdict, card)]
    groups += [
        image_group(i, study.images[p.ref.key], p, card, verdict.rule, heatmap_method)
        for i, p in enumerate(predictions, start=1)
    ]
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.PROCEDURE,
        imaging_measurements=groups,
        title=codes.TITLE,
        referenced_images=study.datasets,
    )
    report[0].ContentSequence.append(_text(codes.COMMENT, RESEARCH_USE_ASCII))
    eq = equipment(card)
    sr = hd.sr.ComprehensiveSR(
        evidence=study.datasets,
        content=report[0],
        series_instance_uid=series_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=eq["manufacturer"],
        manufacturer_model_name=eq["manufacturer_model_name"],
        software_versions=eq["software_versions"],
        series_description=series_description("AI result (SR)"),
        is_complete=True,
        is_final=False,
        is_verified=False,
        coding_schemes=[codes.SCHEME_IDENTIFICATION],
    )
    sr.SpecificCharacterSet = CHARACTER_SET
    return sr
