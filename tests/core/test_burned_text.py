"""Burned-in text found by Tesseract (real tesseract, small images): phantoms with known text
boxes, the pydicom OB file, an image without text, the tesseract-missing path."""

from __future__ import annotations

import os

import numpy as np
import pytesseract
import pytest
from pydicom.data import get_testdata_file

from core.burned_text import (
    OcrUnavailable,
    TextMasker,
    check_ocr,
    find_text_boxes,
    pixels_key,
)
from core.deidentify import (
    OCR_FALLBACK_WARNING,
    heuristic_text_mask,
    mask_burned_in_text,
    mask_if_ready,
    mask_with_ocr,
)
from core.imaging import probe_file, read_image
from phantoms.annotate import IDENTIFYING_KINDS
from phantoms.phantom_set import iter_rendered, plan_phantom_set

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def phantom():
    """One 320x256 phantom of a fresh seed (301) with its drawn text lines."""
    return next(iter_rendered(plan_phantom_set(1, seed=301)))


@pytest.fixture
def no_tesseract(monkeypatch):
    """Tesseract pointed at a binary that does not exist: the real fault path."""
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")


def _covered(mask: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float(mask[y0:y1, x0:x1].mean())


def test_ocr_reads_the_phantom_name_id_and_date_lines(phantom):
    image, drawn = phantom.frames[0], phantom.texts[0]
    found = find_text_boxes(image)
    read = " ".join(line.text for line in found)
    header = {d.kind: d.text for d in drawn}
    assert header["name_id"].split(",")[0] in read  # the family name, as drawn
    assert header["date"].split()[0] in read  # the exam date
    masked = mask_burned_in_text(image, None, found) == 0
    for d in drawn:
        if d.kind in IDENTIFYING_KINDS:
            assert _covered(masked, d.box) == 1.0, d


def test_text_inside_the_region_is_masked_only_with_ocr(phantom):
    """A region that holds the whole image: geometry masks the header band only, so the
    parameter column below it shows; OCR masks most of it."""
    image, drawn = phantom.frames[0], phantom.texts[0]
    region = (0, 0, image.shape[1], image.shape[0])
    found = find_text_boxes(image)
    geometric = heuristic_text_mask(image, region)
    both = mask_burned_in_text(image, region, found) == 0
    params = [d for d in drawn if d.kind == "parameter"]
    covered_geo = np.mean([_covered(geometric, d.box) == 1.0 for d in params])
    covered_both = np.mean([_covered(both, d.box) == 1.0 for d in params])
    assert covered_geo < 0.5 < covered_both


def test_pydicom_ob_file_measurement_text_in_the_region_is_found():
    image = read_image(probe_file(get_testdata_file("examples_palette.dcm"))[0])
    found = find_text_boxes(image.pixels)
    x0, y0, x1, y1 = image.region
    inside = [t for t in found if t.box[0] >= x0 and t.box[1] >= y0]
    assert any("Mag" in t.text for t in inside)  # "+ Cist Mag  1.06 cm" over the image
    assert any("1.06" in t.text for t in inside)
    masked = mask_burned_in_text(image.pixels, image.region, found)
    for t in inside:
        bx0, by0, bx1, by1 = t.box
        assert not masked[by0:by1, bx0:bx1].any()
    # The header band (date 5/25/2011, the exam id) is black by geometry.
    assert not masked[: int(0.15 * masked.shape[0])].any()


def test_an_image_without_text_gives_no_boxes(phantom):
    """A black image, and the phantom with its drawn text erased (its speckle, skull and
    sector edges left): nothing, or nearly nothing, is read as text."""
    assert find_text_boxes(np.zeros((96, 128, 3), np.uint8)) == ()
    erased = phantom.frames[0].copy()
    for d in phantom.texts[0]:
        x0, y0, x1, y1 = d.box
        erased[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = 0
    found = find_text_boxes(erased)
    area = sum((b.box[2] - b.box[0]) * (b.box[3] - b.box[1]) for b in found)
    assert area <= 0.01 * erased.size, found


def test_cache_answers_the_same_pixels_without_ocr(phantom, no_tesseract):
    masker = TextMasker()
    image = phantom.frames[0]
    assert masker.known(image) is None
    with pytest.raises(OcrUnavailable):
        masker.boxes(image)
    masker._cache[pixels_key(image)] = ()  # as a run with OCR would have left it
    assert masker.boxes(image.copy()) == ()  # a copy hits: no tesseract call needed
    assert masker.known(image) == ()
    assert masker.known(image[::-1].copy()) is None  # other pixels, other key


def test_missing_tesseract_is_a_clear_error(no_tesseract):
    with pytest.raises(OcrUnavailable, match="install-system-deps.sh"):
        check_ocr()
    with pytest.raises(OcrUnavailable, match="/nonexistent/tesseract"):
        find_text_boxes(np.zeros((80, 96), np.uint8))


def test_app_falls_back_to_geometry_with_a_warning_without_tesseract(phantom, no_tesseract):
    masker, image = TextMasker(), phantom.frames[0]
    assert mask_if_ready(image, None, masker) is None  # not known yet: show nothing
    result = mask_with_ocr(image, None, masker)
    assert not result.ocr and result.warning == OCR_FALLBACK_WARNING
    assert "install-system-deps.sh" in result.warning
    np.testing.assert_array_equal(result.pixels, mask_burned_in_text(image, None))
    again = mask_if_ready(image, None, masker)  # known to be unavailable: no wait
    assert again is not None and again.warning == OCR_FALLBACK_WARNING


def test_mask_if_ready_after_ocr_uses_the_cached_boxes(phantom):
    masker, image = TextMasker(), phantom.frames[0]
    done = mask_with_ocr(image, None, masker)
    assert done.ocr and done.warning is None
    ready = mask_if_ready(image, None, masker)
    np.testing.assert_array_equal(ready.pixels, done.pixels)


def test_ocr_leaves_this_process_threads_alone(phantom, tmp_path, monkeypatch):
    """Tesseract runs with one OpenMP thread, set in its own environment only: an
    OMP_THREAD_LIMIT in this process's environment hangs oneDNN's convolution backward
    (Grad-CAM) once libgomp has read it."""
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    seen = tmp_path / "seen.txt"
    wrapper = tmp_path / "tesseract"
    wrapper.write_text(
        f'#!/bin/sh\necho "limit=$OMP_THREAD_LIMIT" > {seen}\n'
        f'exec {pytesseract.pytesseract.tesseract_cmd} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(wrapper))
    find_text_boxes(phantom.frames[0])
    assert seen.read_text().strip() == "limit=1"
    assert "OMP_THREAD_LIMIT" not in os.environ
