"""DICOM output of phantom images: Ultrasound Image Storage (stills) and Ultrasound Multi-frame
Image Storage (cines), explicit VR little endian, MONOCHROME2, with one US region that bounds
the fan and gives its physical scale.

Deterministic: UIDs are name-based UUIDs (``2.25.<uuid5>``, DICOM PS3.5 B.2) of the seed and the
patient/image, dates come from the made-up exam date, and nothing reads the clock. (pydicom's
``generate_uid(prefix=None, ...)`` ignores its entropy sources and is random, so it is not used.)
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian

from phantoms.geometry import Sector, make_sector
from phantoms.names import dicom_person_name
from phantoms.sites import Site, get_site

US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
CINE_FRAME_TIME_MS = 40.0  # 25 frames per second
_UID_NAMESPACE = "cnsight-phantoms"
IMPLEMENTATION_VERSION = "CNSIGHT_PH_1"


def stable_uid(*parts: str) -> UID:
    """2.25.<UUID v5 of the parts>: the same parts always give the same UID."""
    name = "/".join((_UID_NAMESPACE, *parts))
    return UID(f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, name).int}")


def phantom_uid(seed: int, *parts: str) -> UID:
    """A UID fixed by the seed and what it identifies (study, series, image)."""
    return stable_uid(str(seed), *parts)


IMPLEMENTATION_CLASS_UID = stable_uid("implementation")


def us_region(sector: Sector) -> Dataset:
    """SequenceOfUltrasoundRegions item: the fan's bounding box, 2D tissue, cm per pixel."""
    x0, y0, x1, y1 = sector.bounding_box()
    cm_per_px = 0.1 / sector.px_per_mm
    region = Dataset()
    region.RegionSpatialFormat = 1  # 2D
    region.RegionDataType = 1  # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0 = x0
    region.RegionLocationMinY0 = y0
    region.RegionLocationMaxX1 = x1
    region.RegionLocationMaxY1 = y1
    region.PhysicalUnitsXDirection = 3  # cm
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = float(cm_per_px)
    region.PhysicalDeltaY = float(cm_per_px)
    # Reference point: centre of the probe face, at 0 cm lateral and 0 cm depth.
    region.ReferencePixelX0 = int(round(sector.apex_x))
    region.ReferencePixelY0 = int(round(sector.face_y))
    region.ReferencePixelPhysicalValueX = 0.0
    region.ReferencePixelPhysicalValueY = 0.0
    return region


def _file_meta(sop_class: str, sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta


def _patient_and_study(ds: Dataset, rendered, seed: int, site: Site) -> None:
    patient, header = rendered.patient, rendered.patient.header
    ds.PatientName = dicom_person_name(header.family_name, header.given_name)
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.StudyInstanceUID = phantom_uid(seed, patient.patient_id, "study")
    ds.SeriesInstanceUID = phantom_uid(seed, patient.patient_id, "series")
    ds.StudyDate = header.exam_date.strftime("%Y%m%d")
    ds.StudyTime = header.exam_time.replace(":", "")
    ds.SeriesDate = ds.StudyDate
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.StudyTime
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesNumber = 1
    ds.Modality = "US"
    ds.Manufacturer = "CNSight phantom"
    ds.ManufacturerModelName = site.scanner
    ds.InstitutionName = site.hospital
    ds.StudyDescription = "Fetal CNS (synthetic phantom)"


def _pixels(ds: Dataset, frames) -> None:
    stack = np.ascontiguousarray(np.stack(frames).astype(np.uint8))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(stack.shape[1]), int(stack.shape[2])
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    data = stack.tobytes()
    ds.PixelData = data + b"\0" if len(data) % 2 else data  # values have even length


def build_dataset(rendered, seed: int, size: tuple[int, int]) -> Dataset:
    """The DICOM dataset of one rendered phantom image (still or cine)."""
    patient, image = rendered.patient, rendered.image
    site = get_site(patient.site)
    cine = len(rendered.frames) > 1
    sop_class = US_MULTIFRAME_IMAGE_STORAGE if cine else US_IMAGE_STORAGE
    sop_uid = phantom_uid(seed, patient.patient_id, "image", str(image.index))
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop_uid)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    _patient_and_study(ds, rendered, seed, site)
    ds.InstanceNumber = image.index
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SeriesDescription = "Fetal neurosonography"
    ds.ImageComments = image.plane
    ds.BurnedInAnnotation = "YES"  # the header text is in the pixels
    ds.LossyImageCompression = "00"
    ds.PatientOrientation = ""
    ds.SequenceOfUltrasoundRegions = Sequence(
        [us_region(make_sector(site, size, image.view.depth_mm))]
    )
    if cine:
        ds.NumberOfFrames = len(rendered.frames)
        ds.FrameTime = CINE_FRAME_TIME_MS
        ds.CineRate = int(round(1000.0 / CINE_FRAME_TIME_MS))
        ds.RecommendedDisplayFrameRate = ds.CineRate
        ds.FrameIncrementPointer = 0x00181063  # FrameTime
    _pixels(ds, rendered.frames)
    return ds


def write_phantom_dicom(path: Path, rendered, seed: int, size: tuple[int, int]) -> None:
    """Write one rendered phantom image (still or cine) as a DICOM Part 10 file."""
    build_dataset(rendered, seed, size).save_as(path, enforce_file_format=True)
