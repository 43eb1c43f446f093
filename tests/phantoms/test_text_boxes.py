"""The text boxes the phantom generator records (the ground truth of bench/burned_text.py)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from phantoms.annotate import draw_header, header_lines, parameter_lines
from phantoms.phantom_set import (
    TEXT_BOXES_NAME,
    generate_phantom_set,
    iter_rendered,
    plan_phantom_set,
)
from phantoms.sites import SITE_NAMES, get_site

#: SHA-256 of every frame of seed 301, 3 patients, 160x128, cines whole, rendered with
#: OpenCV's CPU-dispatched (SIMD) code paths switched off. Pinned when the generator began to
#: record its text boxes (0f07b9a proved then that recording them changed no pixel); it keeps
#: every later change to the generator honest. Why the dispatched paths are off: they round
#: differently per CPU (AVX2 against AVX-512: +-1 grey level on about 1e-6 of the pixels), so
#: a hash of their output depends on the machine (it failed on an AVX-512 machine, 2026-12-02);
#: the baseline paths are the same code on every x86-64 CPU.
PIXELS_PINNED = "ba8912ad7b4d3e2102775ac39b6d15fbf12dbfbbb5c2ef52b92b9784318c1d34"


@pytest.fixture
def opencv_baseline_paths():
    import cv2

    was = cv2.useOptimized()
    cv2.setUseOptimized(False)
    try:
        yield
    finally:
        cv2.setUseOptimized(was)


def test_phantom_pixels_are_pinned(opencv_baseline_paths):
    digest = hashlib.sha256()
    for rendered in iter_rendered(plan_phantom_set(3, seed=301), size=(160, 128), cine=True):
        for frame in rendered.frames:
            digest.update(frame.tobytes())
    assert digest.hexdigest() == PIXELS_PINNED


def test_every_inked_pixel_of_the_header_lies_in_a_recorded_box():
    plan = plan_phantom_set(1, seed=301)[0]
    for name in SITE_NAMES:
        site = get_site(name)
        for size in ((320, 256), (160, 128)):
            canvas = np.zeros(size[::-1], dtype=np.uint8)
            drawn = draw_header(canvas, site, plan.header, parameter_lines(site, 80.0, 0.0, 60.0))
            inside = np.zeros(canvas.shape, dtype=bool)
            for text in drawn:
                x0, y0, x1, y1 = text.box
                assert (canvas[y0:y1, x0:x1] > 0).any(), text  # the box holds its text
                inside[y0:y1, x0:x1] = True
            assert not (canvas[~inside] > 0).any(), name
            assert [t.text for t in drawn][: len(site.layout.header)] == header_lines(
                site, plan.header
            )
            assert {"name_id", "date"} <= {t.kind for t in drawn}


def test_text_boxes_json_lists_every_file_and_every_cine_frame(tmp_path):
    manifest = generate_phantom_set(tmp_path, 2, seed=301, fmt="both", size=(160, 128))
    boxes = json.loads((tmp_path / TEXT_BOXES_NAME).read_text(encoding="utf-8"))
    assert boxes["image_size"] == [160, 128]
    paths = [line.split(",")[0] for line in manifest.read_text().splitlines()[1:]]
    assert sorted(boxes["files"]) == sorted(paths)
    plans = {p.patient_id: p for p in plan_phantom_set(2, seed=301)}
    for path, frames in boxes["files"].items():
        patient, name = path.split("/")
        image = plans[patient].images[int(name[3:5]) - 1]
        assert len(frames) == (image.cine_frames if name.endswith(".dcm") else 1)
        kinds = {text["kind"] for text in frames[0]}
        assert {"institution", "name_id", "date", "parameter"} <= kinds
        name_line = next(t for t in frames[0] if t["kind"] == "name_id")
        assert patient in name_line["text"]
