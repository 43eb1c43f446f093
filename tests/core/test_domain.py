"""Model-free input-domain checks (core.domain): each reason on an input that should get it,
pydicom's own files as what they are, and real greyscale fetal images left to the model."""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom.data import get_testdata_file

from core.discovery import discover
from core.domain import (
    ASSESSABLE,
    MAX_COLOUR_SHARE,
    REASONS,
    DomainCheck,
    check_image,
    colour_share,
    out_of_distribution,
)
from core.imaging import read_image
from core.imaging.dicom_info import modality_warning
from core.records import ImageRef, LoadedImage
from phantoms.cli import main as phantoms_main
from tests.support.dicom_files import write_dicom

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on its odd test files


def loaded(pixels: np.ndarray, region=None, modality=None, name="img.png") -> LoadedImage:
    return LoadedImage(ref=ImageRef(Path(name)), pixels=pixels, region=region, modality=modality)


def grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("phantoms") / "h4_ph"
    args = [str(out), "--patients", "10", "--seed", "3", "--format", "both", "--quiet"]
    assert phantoms_main(args) == 0
    return out


@pytest.fixture(scope="module")
def bmode(phantom_dir) -> np.ndarray:
    """One greyscale fetal-head phantom (H x W x 3 RGB), the base for tint and overlay tests."""
    return read_image(ImageRef(sorted(phantom_dir.glob("*/img01.png"))[0])).pixels.copy()


def with_doppler(pixels: np.ndarray, share: float = 0.12) -> np.ndarray:
    """``pixels`` with red/orange/yellow power-Doppler-like blobs over about ``share`` of them."""
    out = pixels.copy()
    h, w = out.shape[:2]
    rng = np.random.default_rng(0)
    mask = np.zeros((h, w), np.uint8)
    while mask.mean() / 255 < share:
        centre = (int(rng.integers(w // 4, 3 * w // 4)), int(rng.integers(h // 4, 3 * h // 4)))
        axes = (int(rng.integers(6, 20)), int(rng.integers(3, 10)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    flow = np.array([[230, 60, 10], [250, 150, 20], [255, 230, 60]], np.uint8)
    out[mask > 0] = flow[rng.integers(0, 3, int((mask > 0).sum()))]
    return out


def with_ui_graphics(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` with the small colour graphics of a B-mode screen: a colour scale bar,
    coloured text, yellow calipers and a green orientation marker."""
    out = np.ascontiguousarray(pixels.copy())
    h, w = out.shape[:2]
    bar = np.linspace([255, 255, 0], [200, 0, 0], 60).astype(np.uint8)  # yellow -> red
    out[10:70, w - 14 : w - 6] = bar[:, None, :]
    cv2.putText(out, "PWR 70%", (6, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 220, 0), 1)
    for x, y in ((w // 3, h // 2), (2 * w // 3, h // 2)):
        cv2.drawMarker(out, (x, y), (255, 230, 0), cv2.MARKER_CROSS, 12, 1)
    cv2.circle(out, (20, 20), 4, (0, 200, 80), -1)
    return out


def tinted(pixels: np.ndarray, rgb_gain) -> np.ndarray:
    return np.clip(pixels.astype(np.float32) * np.float32(rgb_gain), 0, 255).astype(np.uint8)


# --- API ------------------------------------------------------------------------------------------


def test_assessable_and_reason_codes():
    assert (ASSESSABLE.assessable, ASSESSABLE.reason, ASSESSABLE.message) == (True, "", "")
    assert ASSESSABLE.label == "" and isinstance(ASSESSABLE, DomainCheck)
    for code in ("not_ultrasound", "not_bmode", "blank", "too_small", "out_of_distribution"):
        assert REASONS[code]


def test_a_fetal_phantom_is_assessable(bmode):
    assert check_image(loaded(bmode)) == ASSESSABLE


def test_every_check_is_fast_at_800x600(bmode):
    image = loaded(with_doppler(cv2.resize(bmode, (800, 600))))  # passes every check but colour
    check_image(image)
    best = min(_timed(check_image, image) for _ in range(5))
    assert best < 0.02  # ~3 ms here; a generous bound for a loaded CI machine


def _timed(fn, arg) -> float:
    start = time.perf_counter()
    fn(arg)
    return time.perf_counter() - start


# --- not_ultrasound ----------------------------------------------------------------------------------


@pytest.mark.parametrize("modality", [None, "US", "OT", "CT", "MR", "NM", "XA", "SEG"])
def test_modality_rule_is_dicom_infos(bmode, modality):
    check = check_image(loaded(bmode, modality=modality))
    assert (check.reason == "not_ultrasound") == (modality_warning(modality) is not None)
    if check.reason:
        assert modality in check.message and not check.assessable


def test_modality_is_checked_first():
    check = check_image(loaded(np.zeros((5, 5, 3), np.uint8), modality="CT"))
    assert check.reason == "not_ultrasound"


# --- too_small -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(45, 10), (10, 45), (1, 20000), (63, 200), (300, 1300), (0, 0), (3, 3)],
    ids=["10x45", "45x10", "1x20000", "short-63px", "aspect-4.3", "empty", "3x3"],
)
def test_small_or_elongated_images_are_too_small(shape):
    rng = np.random.default_rng(1)
    check = check_image(loaded(grey_rgb(rng.integers(0, 256, shape))))
    assert check.reason == "too_small" and not check.assessable
    assert f"{shape[1]} x {shape[0]} px" in check.message


def test_four_to_one_is_still_assessable():
    rng = np.random.default_rng(2)
    assert check_image(loaded(grey_rgb(rng.integers(0, 256, (256, 1024))))).assessable


def test_a_small_ultrasound_region_is_too_small(bmode):
    check = check_image(loaded(bmode, region=(10, 10, 50, 50)))
    assert check.reason == "too_small" and "ultrasound region is 40 x 40 px" in check.message


def test_size_is_checked_before_blank_and_colour():
    red = np.zeros((20, 20, 3), np.uint8)
    red[..., 0] = 255
    assert check_image(loaded(red)).reason == "too_small"


# --- blank -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0, 128, 255])
def test_uniform_images_are_blank(level):
    check = check_image(loaded(np.full((480, 640, 3), level, np.uint8)))
    assert check.reason == "blank" and "uniform" in check.message


def test_a_blank_page_with_jpeg_noise_is_blank():
    rng = np.random.default_rng(3)
    page = grey_rgb(rng.normal(240, 1.0, (480, 640)))
    assert check_image(loaded(page)).reason == "blank"


def test_a_uniform_colour_is_blank_not_colour():
    red = np.zeros((480, 640, 3), np.uint8)
    red[..., 0] = 200
    assert check_image(loaded(red)).reason == "blank"


def _text_screen(background: int) -> np.ndarray:
    screen = np.full((480, 640, 3), background, np.uint8)
    colour = (240, 240, 240) if background < 128 else (10, 10, 10)
    for row, text in enumerate(["PATIENT TEST^ONE", "GA 21w3d", "MI 0.9 TIS 0.4", "FROZEN"]):
        cv2.putText(screen, text, (20, 40 + 30 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, 2)
    cv2.rectangle(screen, (100, 150), (540, 460), colour, 1)  # an empty sector frame
    return screen


@pytest.mark.parametrize("background", [0, 128])
def test_text_on_a_plain_background_is_blank(background):
    check = check_image(loaded(_text_screen(background)))
    assert check.reason == "blank" and "nearly empty" in check.message


def test_black_frames_of_a_cine_are_blank(tmp_path, bmode):
    grey = bmode[..., 0]
    black_with_text = _text_screen(0)[: grey.shape[0], : grey.shape[1], 0]
    frames = np.stack([grey, black_with_text, np.zeros_like(grey), grey])
    path = write_dicom(tmp_path / "cine.dcm", frames, FrameTime=40.0)
    reasons = [
        check_image(read_image(ImageRef(path, frame=i, n_frames=4))).reason for i in range(4)
    ]
    assert reasons == ["", "blank", "blank", ""]


def test_a_faint_real_image_on_black_is_not_blank(bmode):
    dim = (bmode.astype(np.float32) * 0.15).astype(np.uint8)  # darker than any FBAU image
    assert check_image(loaded(dim)).assessable


# --- not_bmode --------------------------------------------------------------------------------------


def test_colour_doppler_is_not_bmode(bmode):
    check = check_image(loaded(with_doppler(bmode)))
    assert check.reason == "not_bmode" and not check.assessable
    assert check.message.startswith("colour covers 1") and "B-mode greyscale only" in check.message


def test_a_colour_picture_is_not_bmode():
    rng = np.random.default_rng(4)
    corners = rng.uniform(0, 255, (2, 2, 3)).astype(np.float32)
    picture = cv2.resize(corners, (640, 480)).astype(np.uint8)
    assert check_image(loaded(picture)).reason == "not_bmode"


def test_small_colour_graphics_of_a_bmode_screen_are_ignored(bmode):
    screen = with_ui_graphics(bmode)
    assert 0 < colour_share(screen) < MAX_COLOUR_SHARE / 2
    assert check_image(loaded(screen)) == ASSESSABLE


@pytest.mark.parametrize(
    "gain", [(1.0, 0.82, 0.62), (0.72, 0.86, 1.0), (1.0, 0.95, 0.85)], ids=["sepia", "blue", "warm"]
)
def test_a_uniformly_tinted_bmode_map_is_not_colour(bmode, gain):
    image = tinted(bmode, gain)
    assert colour_share(image) == 0
    assert check_image(loaded(image)) == ASSESSABLE


def test_doppler_on_a_tinted_map_is_still_not_bmode(bmode):
    image = with_doppler(tinted(bmode, (1.0, 0.82, 0.62)))
    assert check_image(loaded(image)).reason == "not_bmode"


def test_colour_outside_the_ultrasound_region_is_ignored(bmode):
    h, w = bmode.shape[:2]
    screen = np.zeros((h + 60, w, 3), np.uint8)
    screen[60:] = bmode
    screen[:60] = (20, 60, 200)  # a vendor's blue header band
    assert check_image(loaded(screen)).reason == "not_bmode"
    inside = loaded(screen, region=(0, 60, w, h + 60))
    assert check_image(inside) == ASSESSABLE


def test_doppler_inside_the_region_names_the_region(bmode):
    check = check_image(loaded(with_doppler(bmode), region=(0, 0, *bmode.shape[1::-1])))
    assert check.reason == "not_bmode" and "of the ultrasound region" in check.message


# --- out_of_distribution ------------------------------------------------------------------------------


def test_out_of_distribution_verdict():
    assert out_of_distribution(3.0, 5.0) == ASSESSABLE
    assert out_of_distribution(5.0, 5.0) == ASSESSABLE
    check = out_of_distribution(41.25, 30.0)
    assert check.reason == "out_of_distribution" and not check.assessable
    assert "41.2" in check.message and "30" in check.message and check.label
    for score in (math.nan, math.inf):
        assert out_of_distribution(score, 30.0).reason == "out_of_distribution"


# --- pydicom's own files --------------------------------------------------------------------------------

#: Files inside the pydicom wheel (any other name makes get_testdata_file go online): what
#: each one is, and the verdict it gets. "" = passes the model-free checks, so the model-based
#: out-of-distribution score must judge it.
PYDICOM_FILES = [
    ("examples_ybr_color.dcm", "", "adult cardiac echo cine, greyscale B-mode"),
    ("examples_palette.dcm", "", "Philips OB screen, near-empty sector (probe in air)"),
    ("examples_jpeg2k.dcm", "not_bmode", "lymph node, power Doppler (J2K)"),
    ("examples_rgb_color.dcm", "not_bmode", "lymph node, power Doppler (RGB)"),
    ("ExplVR_BigEnd.dcm", "too_small", "US 80 x 60 px colour crop"),
    ("JPEGLSNearLossless_08.dcm", "too_small", "10 x 45 px grey step pattern"),
    ("SC_rgb_small_odd.dcm", "too_small", "3 x 3 px RGB"),
    ("SC_rgb_jpeg.dcm", "blank", "OT near-white scanned page"),
    ("SC_rgb_rle.dcm", "not_bmode", "OT colour bars"),
    ("GDCMJ2K_TextGBR.dcm", "not_bmode", "red/green/blue words on grey"),
    ("image_dfl.dcm", "", "OT greyscale squares test pattern"),
    ("CT_small.dcm", "not_ultrasound", "CT slice"),
    ("MR_small.dcm", "not_ultrasound", "MR slice"),
    ("examples_overlay.dcm", "not_ultrasound", "MR abdomen with overlay"),
    ("JPEG2000.dcm", "not_ultrasound", "NM whole-body scan"),
    ("liver_1frame.dcm", "not_ultrasound", "SEG liver mask"),
    ("rtdose_1frame.dcm", "not_ultrasound", "RT dose grid"),
]


@pytest.mark.parametrize(
    ("name", "reason"), [f[:2] for f in PYDICOM_FILES], ids=[f[0] for f in PYDICOM_FILES]
)
def test_pydicom_files_get_the_reason_of_what_they_are(name, reason):
    image = read_image(ImageRef(Path(get_testdata_file(name))))
    assert check_image(image).reason == reason


def test_every_frame_of_the_cardiac_echo_passes_to_the_model():
    path = Path(get_testdata_file("examples_ybr_color.dcm"))
    frames = [read_image(ImageRef(path, frame=i, n_frames=30)) for i in range(30)]
    assert all(check_image(f) == ASSESSABLE for f in frames)


# --- real greyscale fetal images pass ----------------------------------------------------------------


def test_every_phantom_image_is_assessable(phantom_dir):
    images = discover(phantom_dir).images
    assert len(images) > 100 and any(r.path.suffix == ".dcm" for r in images)
    failing = {r.key: c.message for r in images if not (c := check_image(read_image(r))).assessable}
    assert failing == {}


@pytest.mark.slow
def test_real_fetal_brain_ultrasound_passes_the_model_free_checks(shared_data):
    folder = shared_data / "fbau"
    if not folder.is_dir():
        pytest.skip(f"FBAU not found at {folder}")
    paths = sorted(folder.rglob("*.jpg"))
    assert len(paths) > 1000
    failing = {}
    for path in paths:
        check = check_image(read_image(ImageRef(path)))
        if not check.assessable:
            failing[path.name] = check.message
    assert failing == {}
