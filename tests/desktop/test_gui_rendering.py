"""Display pixel steps and the pure loading step (no widgets, no event loop)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPainter

from core.heatmap_overlay import render_overlay
from core.records import ImageRef, Patient
from desktop.loading import images_to_predict, load_patient_pixels
from desktop.rendering import (
    HEADER_BAND_FRACTION,
    apply_brightness_contrast,
    blend_heatmap,
    deidentify_pixels,
    heatmap_layer,
    legend_pixels,
    qimage_to_array,
    thumbnail,
    to_qimage,
)
from tests.support.gui import write_png


def _compose_like_the_viewer(pixels, cam, box, opacity):
    """Paint the RGBA layer over the image with QPainter opacity, as ImageViewer does."""
    canvas = to_qimage(pixels).convertToFormat(QImage.Format.Format_RGB32)
    rgba, (x, y) = heatmap_layer(cam, box, pixels.shape[:2])
    p = QPainter(canvas)
    p.setOpacity(opacity)
    p.drawImage(x, y, to_qimage(rgba))
    p.end()
    return qimage_to_array(canvas)


@pytest.mark.parametrize("box", [(10, 5, 70, 65), (-8, -4, 90, 70)], ids=["inside", "clipped"])
def test_viewer_heatmap_layer_matches_the_reports_blend(box):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(64, 80, 3), dtype=np.uint8)
    cam = rng.random((7, 7)).astype(np.float32)
    ours = _compose_like_the_viewer(pixels, cam, box, 0.45).astype(int)
    report = blend_heatmap(pixels, cam, box, opacity=0.45).astype(int)
    assert np.abs(ours - report).max() <= 2
    assert np.abs(ours - pixels).mean() > 5  # the overlay really changed the picture


def test_the_heatmap_low_end_is_transparent_no_blue_tint():
    """Issue 12: the colour map's low (blue) end tinted the whole image."""
    pixels = np.full((40, 40, 3), 100, np.uint8)
    cam = np.zeros((8, 8), np.float32)
    cam[3:5, 3:5] = 1.0  # one hot spot, the rest of the map at its minimum
    out = blend_heatmap(pixels, cam, (0, 0, 40, 40), opacity=0.6)
    assert (out[:5, :5] == 100).all() and (out[-5:, -5:] == 100).all()  # untouched
    assert np.abs(out[20, 20].astype(int) - 100).max() > 30  # the hot spot is drawn
    cli = render_overlay(pixels, cam, (0, 0, 40, 40), opacity=0.6)  # cnsight-predict's overlay
    assert (cli == out).all()  # one blend: the CLI's overlays do not tint the box either
    legend = legend_pixels(100, 4)
    assert legend[0, 0, 3] == 0 and legend[0, -1, 3] == 255  # the legend shows it too


def test_the_overlay_covers_the_whole_field_the_model_saw():
    """pad_to_square: the model's box is the square around the ultrasound region, reaching
    past the image; the layer covers all of the image inside it, nothing outside."""
    h, w = 60, 100
    box = (10, -15, 100, 75)  # a 90 x 90 square around the region x 10..100, clipped at the top
    cam = np.ones((7, 7), np.float32)
    rgba, (x, y) = heatmap_layer(cam, box, (h, w))
    assert (x, y) == (10, 0) and rgba.shape[:2] == (60, 90)


def test_deidentify_masks_outside_the_region_the_header_band_and_the_region_top():
    pixels = np.full((100, 50, 3), 200, np.uint8)
    masked = deidentify_pixels(pixels, (10, 20, 40, 90))
    assert masked[:22].max() == 0 and masked[:, :10].max() == 0 and masked[90:].max() == 0
    assert (masked[22:90, 10:40] == 200).all()
    band = int(np.ceil(100 * HEADER_BAND_FRACTION))
    no_region = deidentify_pixels(pixels, None)
    assert no_region[:band].max() == 0 and (no_region[band:] == 200).all()
    at_top = deidentify_pixels(pixels, (0, 0, 50, 100))  # a region starting at row 0
    assert at_top[:band].max() == 0 and (at_top[band:] == 200).all()


def test_window_changes_contrast_brightness_and_inverts():
    pixels = np.array([[[0, 128, 255]]], np.uint8)
    assert apply_brightness_contrast(pixels, 0, 100, False) is pixels
    assert apply_brightness_contrast(pixels, 0, 100, True).tolist() == [[[255, 127, 0]]]
    assert apply_brightness_contrast(pixels, 20, 100, False).tolist() == [[[20, 148, 255]]]
    assert apply_brightness_contrast(pixels, 0, 200, False).tolist() == [[[0, 128, 255]]]
    assert apply_brightness_contrast(pixels, 0, 50, False).tolist() == [[[64, 128, 192]]]


def test_qimage_round_trip_and_thumbnail_size():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)  # odd width: row padding
    assert np.array_equal(qimage_to_array(to_qimage(pixels)), pixels)
    assert max(thumbnail(np.zeros((600, 800, 3), np.uint8), 120).shape[:2]) == 120


def test_one_bad_file_gives_one_error_and_the_rest_loads(tmp_path):
    good = [write_png(tmp_path / f"{i}.png", seed=i) for i in range(2)]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    refs = tuple(ImageRef(p, patient_id="P") for p in (good[0], bad, good[1]))
    pixels, errors = load_patient_pixels(Patient("P", refs))
    assert set(pixels.images) == {str(good[0]), str(good[1])}
    assert len(errors) == 1 and errors[0].path == str(bad) and errors[0].message
    assert str(bad) in pixels.unreadable and set(pixels.thumbnails) == {str(good[0]), str(good[1])}
    assert [im.ref.path for im in images_to_predict(Patient("P", refs), pixels)] == good


def test_loading_stops_when_cancelled(tmp_path):
    refs = tuple(
        ImageRef(write_png(tmp_path / f"{i}.png", seed=i), patient_id="P") for i in range(3)
    )
    pixels, errors = load_patient_pixels(Patient("P", refs), cancelled=lambda: True)
    assert not pixels.images and not errors


def test_out_of_scope_images_are_shown_and_passed_to_the_domain_check(tmp_path):
    from core.domain import check_image
    from core.records import LoadedImage

    ref = ImageRef(Path(tmp_path / "ct.dcm"), patient_id="P")
    ct = LoadedImage(
        ref=ref,
        pixels=np.zeros((8, 8, 3), np.uint8),
        modality="CT",
        warning="modality CT is out of scope",
    )
    pixels, errors = load_patient_pixels(Patient("P", (ref,)), read_image=lambda r: ct)
    assert ref.key in pixels.images and errors[0].message == "modality CT is out of scope"
    # Given to the predictor like any image: its domain check marks it not assessable (with the
    # reason), so the reader sees why and the patient verdict leaves it out.
    assert images_to_predict(Patient("P", (ref,)), pixels) == [ct]
    assert check_image(ct).reason == "not_ultrasound"


def test_the_file_on_screen_is_predicted_first_from_its_displayed_frame():
    from core.records import LoadedImage
    from desktop.viewmodels.cohort import PatientPixels

    still = ImageRef(Path("/s/still.png"), patient_id="P")
    cine = [ImageRef(Path("/s/cine.dcm"), frame=f, patient_id="P", n_frames=5) for f in range(5)]
    after = ImageRef(Path("/s/after.png"), patient_id="P")
    refs = (still, *cine, after)
    pixels = PatientPixels()
    for ref in refs:
        pixels.images[ref.key] = LoadedImage(ref=ref, pixels=np.zeros((8, 8, 3), np.uint8))
    patient = Patient("P", refs)

    def order(on_screen):
        return [
            (im.ref.path.name, im.ref.frame) for im in images_to_predict(patient, pixels, on_screen)
        ]

    assert order(None) == [(r.path.name, r.frame) for r in refs]
    assert order(cine[3]) == [("cine.dcm", 3), ("cine.dcm", 4), ("cine.dcm", 0), ("cine.dcm", 1),
                              ("cine.dcm", 2), ("still.png", None), ("after.png", None)]  # fmt: skip
    assert order(after)[0] == ("after.png", None) and len(order(after)) == 7
