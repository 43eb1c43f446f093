"""DICOM written here with pydicom: every transfer syntax we can encode, every photometric
interpretation, multi-frame cines, ultrasound regions, tag view, scope warning."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.pixels import convert_color_space
from pydicom.sequence import Sequence
from pydicom.uid import (
    JPEG2000,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
)

from core.imaging import probe_file, read_image
from core.records import ImageRef
from tests.support.dicom_files import (
    base_dataset,
    colour_patches,
    patch_centres,
    region_item,
    write_dicom,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

LOSSLESS = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, RLELossless,
            JPEG2000Lossless]  # fmt: skip


def read_one(path, frame=None):
    refs = probe_file(path)
    ref = refs[0] if frame is None else refs[frame]
    return read_image(ref)


def grey_ramp(h=32, w=32, top=255, dtype=np.uint8):
    return (np.arange(h * w).reshape(h, w) * top // (h * w - 1)).astype(dtype)


@pytest.mark.parametrize("syntax", LOSSLESS, ids=lambda s: s.name)
def test_lossless_rgb_is_exact(tmp_path, syntax):
    rgb = colour_patches()
    image = read_one(write_dicom(tmp_path / "x.dcm", rgb, "RGB", syntax=syntax))
    assert image.pixels.dtype == np.uint8 and image.pixels.shape == (32, 32, 3)
    np.testing.assert_array_equal(image.pixels, rgb)


@pytest.mark.parametrize("syntax", LOSSLESS, ids=lambda s: s.name)
def test_lossless_monochrome2_8bit_is_shown_as_stored(tmp_path, syntax):
    grey = grey_ramp()
    image = read_one(write_dicom(tmp_path / "x.dcm", grey, "MONOCHROME2", syntax=syntax))
    np.testing.assert_array_equal(image.pixels[:, :, 0], grey)
    np.testing.assert_array_equal(image.pixels[:, :, 0], image.pixels[:, :, 2])


@pytest.mark.parametrize("syntax", LOSSLESS, ids=lambda s: s.name)
def test_16bit_monochrome_without_window_is_min_max_scaled(tmp_path, syntax):
    grey = grey_ramp(top=3900, dtype=np.uint16) + 100
    path = write_dicom(tmp_path / "x.dcm", grey, "MONOCHROME2", syntax=syntax, bits_stored=12)
    pixels = read_one(path).pixels[:, :, 0]
    assert pixels.min() == 0 and pixels.max() == 255
    expected = np.rint((grey - 100.0) / 3900.0 * 255)
    assert np.abs(pixels.astype(float) - expected).max() <= 1


def test_jpeg_baseline_ybr_full_422_colours_are_right(tmp_path):
    path = write_dicom(tmp_path / "x.dcm", colour_patches(), "RGB", syntax=JPEGBaseline8Bit)
    image = read_one(path)
    for row, col, expected in patch_centres():
        got = image.pixels[row, col].astype(int)
        assert np.abs(got - expected).max() <= 12, (got, expected)


def test_jpeg_baseline_monochrome(tmp_path):
    grey = np.full((32, 32), 90, np.uint8)
    grey[:, 16:] = 200
    image = read_one(write_dicom(tmp_path / "x.dcm", grey, "MONOCHROME2", syntax=JPEGBaseline8Bit))
    assert abs(int(image.pixels[8, 5, 0]) - 90) <= 4
    assert abs(int(image.pixels[8, 26, 1]) - 200) <= 4


def test_jpeg2000_lossy_is_close(tmp_path):
    rgb = colour_patches()
    image = read_one(write_dicom(tmp_path / "x.dcm", rgb, "RGB", syntax=JPEG2000))
    for row, col, expected in patch_centres():
        assert np.abs(image.pixels[row, col].astype(int) - expected).max() <= 16


def test_uncompressed_ybr_full_is_converted_to_rgb(tmp_path):
    rgb = colour_patches()
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    image = read_one(write_dicom(tmp_path / "x.dcm", ybr, "YBR_FULL"))
    assert np.abs(image.pixels.astype(int) - rgb).max() <= 2


def test_monochrome1_is_inverted_after_the_window(tmp_path):
    grey = grey_ramp(top=4095, dtype=np.uint16)
    path = write_dicom(
        tmp_path / "x.dcm", grey, "MONOCHROME1", bits_stored=12, WindowCenter=2048, WindowWidth=4096
    )
    pixels = read_one(path).pixels[:, :, 0]
    assert pixels[0, 0] == 255 and pixels[-1, -1] == 0  # minimum is white
    assert np.all(np.diff(pixels.ravel().astype(int)) <= 0)


def test_window_clips_outside_values(tmp_path):
    grey = np.array([[0, 1000, 1500, 2000, 4000]], np.uint16).repeat(4, axis=0)
    path = write_dicom(
        tmp_path / "x.dcm", grey, bits_stored=12, WindowCenter=1500, WindowWidth=1001
    )
    row = read_one(path).pixels[0, :, 0]
    assert row[0] == 0 and row[1] == 0 and row[3] == 255 and row[4] == 255
    assert 120 <= row[2] <= 135


def test_rescale_slope_intercept_is_applied_before_the_window(tmp_path):
    grey = np.array([[0, 100, 200]], np.uint16).repeat(2, axis=0)
    # stored 0..200 -> -1000..-600 after rescale; a window at -800 +- 100 maps 100 to mid-grey
    path = write_dicom(
        tmp_path / "x.dcm", grey, bits_stored=12, RescaleSlope=2, RescaleIntercept=-1000,
        WindowCenter=-800, WindowWidth=200,
    )  # fmt: skip
    row = read_one(path).pixels[0, :, 0]
    assert row[0] == 0 and row[2] == 255 and 120 <= row[1] <= 135


def _palette_dataset(segmented: bool):
    ds = base_dataset()
    ramp = (np.arange(256) * 257).astype("<u2")
    ds.RedPaletteColorLookupTableDescriptor = [256, 0, 16]
    ds.GreenPaletteColorLookupTableDescriptor = [256, 0, 16]
    ds.BluePaletteColorLookupTableDescriptor = [256, 0, 16]
    if segmented:  # red: ramp 0->65535; green: constant 32896; blue: ramp 65535->0
        ds.SegmentedRedPaletteColorLookupTableData = np.array(
            [0, 1, 0, 1, 255, 65535], "<u2"
        ).tobytes()
        ds.SegmentedGreenPaletteColorLookupTableData = np.array(
            [0, 1, 32896, 1, 255, 32896], "<u2"
        ).tobytes()  # noqa: E501
        ds.SegmentedBluePaletteColorLookupTableData = np.array(
            [0, 1, 65535, 1, 255, 0], "<u2"
        ).tobytes()
    else:
        ds.RedPaletteColorLookupTableData = ramp.tobytes()
        ds.GreenPaletteColorLookupTableData = np.full(256, 32896, "<u2").tobytes()
        ds.BluePaletteColorLookupTableData = ramp[::-1].copy().tobytes()
    return ds


@pytest.mark.parametrize("segmented", [False, True], ids=["lut", "segmented-lut"])
def test_palette_color_applies_the_lut(tmp_path, segmented):
    index = np.array([[0, 64, 128, 255]], np.uint8).repeat(3, axis=0)
    path = write_dicom(tmp_path / "x.dcm", index, "PALETTE COLOR", ds=_palette_dataset(segmented))
    pixels = read_one(path).pixels[0].astype(int)
    expected = np.array([[0, 128, 255], [64, 128, 191], [128, 128, 127], [255, 128, 0]])
    assert np.abs(pixels - expected).max() <= 1


def test_multiframe_gives_one_ref_per_frame_and_decodes_each(tmp_path):
    frames = np.stack([np.full((8, 10), 10 + 50 * i, np.uint8) for i in range(3)])
    path = write_dicom(tmp_path / "cine.dcm", frames, FrameTime=40.0)
    refs = probe_file(path)
    assert [r.frame for r in refs] == [0, 1, 2] and {r.n_frames for r in refs} == {3}
    assert refs[1].key.endswith("#1") and refs[1].name == "cine.dcm [2/3]"
    image = read_image(refs[2])
    assert image.pixels.shape == (8, 10, 3) and np.all(image.pixels == 110)
    assert image.frame_time_ms == pytest.approx(40.0)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGBaseline8Bit], ids=str)
def test_multiframe_compressed_frames(tmp_path, syntax):
    frames = np.stack([np.full((32, 32), 30 + 60 * i, np.uint8) for i in range(3)])
    path = write_dicom(tmp_path / "cine.dcm", frames, syntax=syntax, CineRate=25)
    image = read_image(probe_file(path)[1])
    assert abs(int(image.pixels[8, 8, 0]) - 90) <= 3
    assert image.frame_time_ms == pytest.approx(40.0)


def test_single_frame_has_frame_none_and_header_fields(tmp_path):
    ds = base_dataset(patient_id="PAT-7", study_uid="1.2.3.4", modality="US")
    refs = probe_file(write_dicom(tmp_path / "one.dcm", grey_ramp(), ds=ds))
    assert len(refs) == 1
    ref = refs[0]
    assert (ref.frame, ref.n_frames, ref.patient_id, ref.study_uid, ref.modality) == (
        None, 1, "PAT-7", "1.2.3.4", "US",
    )  # fmt: skip


def test_missing_patient_id_falls_back_to_the_folder_name(tmp_path):
    folder = tmp_path / "case_12"
    folder.mkdir()
    ds = base_dataset(patient_id=None)
    ref = probe_file(write_dicom(folder / "a.dcm", grey_ramp(), ds=ds))[0]
    assert ref.patient_id == "case_12"


def test_region_is_the_bounding_box_of_tissue_regions(tmp_path):
    ds = base_dataset()
    ds.SequenceOfUltrasoundRegions = Sequence([
        region_item(10, 5, 29, 19),
        region_item(20, 10, 39, 29),
        region_item(0, 32, 39, 39, data_type=3),  # spectral Doppler strip: not tissue
    ])  # fmt: skip
    image = read_one(write_dicom(tmp_path / "x.dcm", grey_ramp(40, 40), ds=ds))
    assert image.region == (10, 5, 40, 30)


def test_region_falls_back_to_the_largest_and_is_clipped(tmp_path):
    ds = base_dataset()
    ds.SequenceOfUltrasoundRegions = Sequence([
        region_item(0, 0, 9, 9, data_type=3),
        region_item(5, 6, 99, 99, data_type=2, spatial=2),
    ])  # fmt: skip
    image = read_one(write_dicom(tmp_path / "x.dcm", grey_ramp(20, 30), ds=ds))
    assert image.region == (5, 6, 30, 20)


def test_no_regions_means_region_none(tmp_path):
    assert read_one(write_dicom(tmp_path / "x.dcm", grey_ramp())).region is None


def test_header_view_summarises_and_truncates(tmp_path):
    ds = base_dataset()
    ds.SequenceOfUltrasoundRegions = Sequence([region_item(0, 0, 3, 3), region_item(1, 1, 2, 2)])
    ds.ImageComments = "x" * 500
    header = read_one(write_dicom(tmp_path / "x.dcm", grey_ramp(), ds=ds)).header
    assert header["Modality"] == "US" and header["PatientID"] == "P1"
    assert header["SequenceOfUltrasoundRegions"] == "<2 items>"
    assert header["TransferSyntaxUID"] == str(ExplicitVRLittleEndian)
    assert len(header["ImageComments"]) <= 200 and header["ImageComments"].endswith("...")
    assert "PixelData" not in header


@pytest.mark.parametrize(
    ("modality", "warning"),
    [("US", None), ("OT", None), (None, None), ("CT", "modality CT is out of scope")],
)
def test_modality_scope_warning(tmp_path, modality, warning):
    ds = base_dataset(modality=modality)
    image = read_one(write_dicom(tmp_path / "x.dcm", grey_ramp(), ds=ds))
    assert image.modality == modality
    if warning is None:
        assert image.warning is None and image.in_scope
    else:
        assert image.warning.startswith(warning) and "ultrasound only" in image.warning
        assert not image.in_scope


def test_read_image_without_probe_and_bad_frame_index(tmp_path):
    path = write_dicom(tmp_path / "x.dcm", np.zeros((2, 4, 4), np.uint8))
    assert read_image(ImageRef(path=path, frame=1)).pixels.shape == (4, 4, 3)
    with pytest.raises(Exception, match="frame 5 requested but the file has 2 frame"):
        read_image(ImageRef(path=path, frame=5))


def test_implicit_vr_data_set_under_an_explicit_vr_transfer_syntax_is_read(tmp_path):
    """Such files exist; the header reader detects the encoding from the bytes (the reason
    frames are not read through pydicom.pixels.pixel_array, which misreads them)."""
    ds = base_dataset()
    ds.set_pixel_data(grey_ramp(8, 8), "MONOCHROME2", 8)
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)  # says explicit VR
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, True
    write_dataset(body, ds)
    path = tmp_path / "mismatch.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + meta.getvalue() + body.getvalue())
    np.testing.assert_array_equal(read_one(path).pixels[:, :, 0], grey_ramp(8, 8))
