"""Secondary Capture images of the heatmaps of the views that drove the patient verdict.

Each image is the panel ``cnsight-predict --heatmaps`` writes (``core.cli.overlays``: the image
as acquired beside it with the heatmap of the verdict's class blended over it by the one blend,
``core.heatmap_overlay.render_overlay``), with the class, the probabilities and the
research-use line burned in: a viewer that shows only pixels still shows what the picture is.
RGB, 8 bits, uncompressed; highdicom's ``SCImage`` with the source study's patient and study
modules, and the source image named in Source Image Sequence (with its frame number).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as sr_codes

from ..cli.overlays import overlay_panel
from ..records import ImageRef, LoadedImage
from .codes import heatmap_kind, heatmap_label
from .identity import CHARACTER_SET, SC_SERIES_NUMBER, equipment, series_description
from .source import SourceImage

if TYPE_CHECKING:
    from ..bundle import ModelCard
    from ..predictor import ImagePrediction


def build_overlay_image(
    source: SourceImage,
    image: LoadedImage,
    pred: ImagePrediction,
    class_index: int,
    card: ModelCard,
    heatmap_method: str,
    series_uid: str,
    instance_number: int,
) -> hd.sc.SCImage:
    panel = overlay_panel(image, pred, class_index, card.class_names)
    eq = equipment(card)
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source.dataset,
        pixel_array=panel,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=series_uid,
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=instance_number,
        manufacturer=eq["manufacturer"],
        # highdicom requires an orientation for a patient image; an ultrasound view has none
        # that rows and columns follow, so the Type 2 attribute is emptied below.
        patient_orientation=("L", "F"),
        manufacturer_model_name=eq["manufacturer_model_name"],
        software_versions=eq["software_versions"],
        series_description=series_description("heatmaps"),
    )
    sc.PatientOrientation = None
    # Type 2C, unknown for a derived picture of a fetus (dciodvfy asks for it: present, empty).
    sc.Laterality = None
    sc.SpecificCharacterSet = CHARACTER_SET
    # Workstation: the picture is drawn by software from an image, not digitised from video.
    sc.ConversionType = "WSD"
    sc.BurnedInAnnotation = "YES"  # the caption, and whatever text the source image carries
    sc.DerivationDescription = f"heatmap: {heatmap_label(heatmap_method, card.heatmap_layer)}"
    sc.DerivationCodeSequence = [_code_item(heatmap_kind(heatmap_method))]
    sc.ImageComments = (
        f"CNSight heatmap of {card.class_names[class_index]} over {source.ref.name}, model "
        f"{card.name}. Research use only - not for diagnosis."
    )
    ref = Dataset()
    ref.ReferencedSOPClassUID = source.sop_class_uid
    ref.ReferencedSOPInstanceUID = source.sop_instance_uid
    if source.frame_number is not None:
        ref.ReferencedFrameNumber = source.frame_number
    ref.PurposeOfReferenceCodeSequence = [
        _code_item(sr_codes.DCM.SourceImageForImageProcessingOperation)
    ]
    sc.SourceImageSequence = [ref]
    return sc


def _code_item(code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme_designator
    item.CodeMeaning = code.meaning
    return item


def build_driver_images(
    sources: dict[str, SourceImage],
    predictions: dict[str, ImagePrediction],
    drivers: Sequence[str],
    class_index: int,
    card: ModelCard,
    heatmap_method: str,
    load_image: Callable[[ImageRef], LoadedImage],
    series_uid: str,
) -> list[hd.sc.SCImage]:
    """One SC image per driving view (``drivers``: image keys, best first)."""
    images = []
    for number, key in enumerate(drivers, start=1):
        source, pred = sources[key], predictions[key]
        loaded = load_image(source.ref)
        images.append(
            build_overlay_image(
                source, loaded, pred, class_index, card, heatmap_method, series_uid, number
            )
        )
    return images
