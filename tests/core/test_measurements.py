"""core.measurements: calibration from DICOM headers, geometry, biometry charts, the sidecar,
and phantoms whose true head sizes are known (issue 12)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from core.measurements import biometry, sidecar
from core.measurements.calibration import Calibration, Scale, calibration_from_dataset
from core.measurements.geometry import (
    distance,
    ellipse_area,
    ellipse_axes,
    ellipse_outline,
    ramanujan_circumference,
)
from core.measurements.measure import Measurement, evaluate
from tests.support.dicom_files import region_item


def _region(x0, y0, x1, y1, cm_per_px=0.02, units=3, spatial=1):
    item = region_item(x0, y0, x1, y1, spatial=spatial)
    item.PhysicalUnitsXDirection = units
    item.PhysicalUnitsYDirection = units
    item.PhysicalDeltaX = cm_per_px
    item.PhysicalDeltaY = cm_per_px
    return item


def _ds(*regions, **attrs) -> Dataset:
    ds = Dataset()
    if regions:
        ds.SequenceOfUltrasoundRegions = Sequence(list(regions))
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


# ----- geometry ---------------------------------------------------------------------------------
def _numeric_perimeter(a, b, n=200_000):
    t = np.linspace(0, 2 * np.pi, n + 1)
    x, y = a * np.cos(t), b * np.sin(t)
    return float(np.sum(np.hypot(np.diff(x), np.diff(y))))


@pytest.mark.parametrize("a,b", [(50, 50), (60, 47), (100, 30), (40, 0.0)])
def test_ramanujan_circumference_matches_the_integral(a, b):
    assert ramanujan_circumference(a, b) == pytest.approx(
        _numeric_perimeter(a, b), rel=5e-4
    )  # b = 0: 4e-4
    if a == b:
        assert ramanujan_circumference(a, b) == pytest.approx(2 * math.pi * a, rel=1e-12)
    assert ramanujan_circumference(60, 47) == pytest.approx(_numeric_perimeter(60, 47), rel=1e-8)


def test_distance_and_ellipse_with_non_square_pixels():
    scale = Scale((0.2, 0.4), "test")
    assert distance([(0, 0), (10, 0)], scale) == pytest.approx(2.0)
    assert distance([(0, 0), (0, 10)], scale) == pytest.approx(4.0)
    assert distance([(0, 0), (3, 4)]) == pytest.approx(5.0)  # pixels without a scale
    # A circle of radius 4 mm drawn on pixels 0.2 x 0.4 mm: 20 px wide, 10 px high.
    pts = [(-20, 0), (20, 0), (0, 10)]
    a, b = ellipse_axes(pts, scale)
    assert (a, b) == pytest.approx((4.0, 4.0))
    assert ellipse_area(a, b) == pytest.approx(math.pi * 16)
    outline = ellipse_outline(pts, scale, n=8)
    assert np.abs(outline[:, 0]).max() == pytest.approx(20) and np.abs(outline[:, 1]).max() == (
        pytest.approx(10)
    )


def test_ellipse_minor_axis_is_the_distance_from_the_major_axis():
    # Rotated 45 degrees: p3 anywhere on the ellipse's minor axis line gives b.
    a, b = ellipse_axes([(0, 0), (10, 10), (5 - 2, 5 + 2)])
    assert a == pytest.approx(math.hypot(10, 10) / 2) and b == pytest.approx(math.hypot(2, 2))


# ----- calibration ------------------------------------------------------------------------------
def test_region_calibration_and_its_refusals():
    cal = calibration_from_dataset(
        _ds(_region(10, 20, 209, 219, 0.025), _region(220, 20, 299, 99, units=4, spatial=2))
    )
    assert len(cal.regions) == 2 and cal.has_physical_scale
    inside = cal.scale_for([(50, 50), (150, 50)])
    assert inside.mm_per_px == pytest.approx((0.25, 0.25)) and inside.unit == "mm"
    assert distance([(50, 50), (150, 50)], inside) == pytest.approx(25.0)
    outside = cal.scale_for([(50, 50), (5, 5)])
    assert outside.unit == "px" and "outside the calibrated ultrasound region" in outside.reason
    across = cal.scale_for([(50, 50), (250, 50)])
    assert across.unit == "px" and "different ultrasound regions" in across.reason
    mmode = cal.scale_for([(230, 30), (290, 90)])  # an M-mode region: seconds across
    assert mmode.unit == "px" and "no spatial units" in mmode.reason and "seconds" in mmode.reason
    # The far edge pixel (inclusive Max X1) is inside.
    assert cal.scale_for([(209.9, 219.9), (10, 20)]).unit == "mm"


def test_regions_win_over_pixel_spacing_and_spacing_is_used_without_them():
    with_both = calibration_from_dataset(_ds(_region(0, 0, 99, 99), PixelSpacing=[0.5, 0.5]))
    assert with_both.scale_for([(150, 150), (160, 150)]).unit == "px"  # outside the region
    spacing = calibration_from_dataset(_ds(PixelSpacing=[0.3, 0.2]))  # row (y), column (x)
    s = spacing.scale_for([(0, 0), (10, 0)])
    assert s.source == "Pixel Spacing" and s.mm_per_px == pytest.approx((0.2, 0.3))
    assert spacing.display_aspect() == pytest.approx(1.5)
    imager = calibration_from_dataset(_ds(ImagerPixelSpacing=[0.1, 0.1]))
    assert imager.scale_for([(0, 0), (1, 0)]).source == "Imager Pixel Spacing"
    none = calibration_from_dataset(_ds())
    assert none.scale_for([(0, 0), (1, 0)]).reason == "the file gives no physical scale"
    assert Calibration().display_aspect() == 1.0


def test_unusable_header_values_are_noted_not_used():
    bad_region = _region(0, 0, 99, 99)
    bad_region.PhysicalDeltaX = 0
    no_units = _region(0, 0, 99, 99, units=0)
    cal = calibration_from_dataset(_ds(bad_region, PixelAspectRatio=[0, 1]))
    assert cal.scale_for([(1, 1), (2, 2)]).unit == "px"
    assert any("Physical Delta" in n for n in cal.notes)
    assert any("Aspect Ratio" in n for n in cal.notes) and cal.display_aspect() == 1.0
    assert "units none" in calibration_from_dataset(_ds(no_units)).scale_for([(1, 1)]).reason
    ratio = calibration_from_dataset(_ds(PixelAspectRatio=[5, 4]))
    assert ratio.display_aspect() == pytest.approx(1.25)
    # pydicom refuses to set such a value, but a file may carry one: a mapping stands in.
    assert calibration_from_dataset({"PixelSpacing": ["x", 1]}).pixel_spacing is None


# ----- biometry ---------------------------------------------------------------------------------
def test_ga_from_hc_reproduces_the_published_worked_example():
    # Papageorghiou et al. 2016 (doi:10.1002/uog.15894): HC 250 mm -> 189.8 days.
    assert biometry.ga_from_hc(250).weeks * 7 == pytest.approx(189.8, abs=0.05)
    assert biometry.ga_from_hc(250).note == ""
    assert "outside the chart" in biometry.ga_from_hc(60).note


@pytest.mark.parametrize("kind,chart", [("HC", biometry.ga_from_hc), ("TCD", biometry.ga_from_tcd)])
def test_dating_equations_agree_with_the_size_standards_of_the_same_project(kind, chart):
    """The GA-from-size equation and the size-for-GA median are separate published fits of the
    same cohort: dating the median of week g must come back within a week of g."""
    for g in range(16, 38, 2):
        median, _sd = biometry.size_for_ga(kind, g)
        assert chart(median).weeks == pytest.approx(g, abs=1.0)


def test_size_for_ga_standards_and_centiles():
    # INTERGROWTH-21st medians at 20 weeks: HC about 175 mm, BPD about 48 mm, TCD about 20 mm.
    assert biometry.size_for_ga("HC", 20)[0] == pytest.approx(172.5, abs=0.5)
    assert biometry.size_for_ga("BPD", 20)[0] == pytest.approx(48.4, abs=0.5)
    assert biometry.size_for_ga("TCD", 20)[0] == pytest.approx(20.0, abs=1.0)
    assert 3.0 < math.exp(biometry.size_for_ga("CM", 22)[0]) < 7.0
    for kind in ("HC", "BPD", "OFD", "TCD"):
        median, sd = biometry.size_for_ga(kind, 25)
        assert biometry.centile(kind, median, 25) == pytest.approx(50.0)
        assert biometry.centile(kind, median + 1.2816 * sd, 25) == pytest.approx(90.0, abs=0.05)
    assert biometry.size_for_ga("HC", 13) is None and biometry.centile("HC", 100, 41) is None
    assert biometry.size_for_ga("distance", 20) is None


def test_evaluate_gives_ga_only_in_mm():
    cal = calibration_from_dataset(_ds(_region(0, 0, 999, 999, 0.01)))  # 0.1 mm per pixel
    hc = Measurement("HC", ((100, 500), (900, 500), (500, 500 + 320)))  # 2a = 80 mm, 2b = 64 mm
    r = evaluate(hc, cal, ga_weeks=28)
    assert r.unit == "mm" and r.axes == pytest.approx((80.0, 64.0))
    assert r.value == pytest.approx(ramanujan_circumference(40, 32))
    assert r.ga is not None and r.ga.chart == "INTERGROWTH-21st HC" and r.centile is not None
    assert any("centile at 28w0d" in d for d in r.details())
    no_ga = evaluate(Measurement("BPD", ((100, 500), (900, 500))), cal)
    assert no_ga.centile is None and "GA is not known" in "; ".join(no_ga.details())
    late = evaluate(Measurement("BPD", ((100, 500), (900, 500))), cal, ga_weeks=41)
    assert "covers 14-40 weeks" in late.note
    assert evaluate(Measurement("distance", ((1, 1), (9, 9))), cal).note == ""
    px = evaluate(hc, Calibration(), ga_weeks=28)
    assert px.unit == "px" and px.ga is None and px.centile is None
    assert any("no physical scale" in d for d in px.details())
    with pytest.raises(ValueError, match="needs 2 points"):
        Measurement("BPD", ((0, 0),))
    with pytest.raises(ValueError, match="unknown"):
        Measurement("XYZ", ((0, 0), (1, 1)))
    assert Measurement("distance", ((0, 0), (1, 1))).relabelled("BPD").kind == "BPD"
    with pytest.raises(ValueError):
        Measurement("distance", ((0, 0), (1, 1))).relabelled("HC")


# ----- sidecar ----------------------------------------------------------------------------------
def test_sidecar_round_trip_keys_relative_to_the_study(tmp_path):
    files = [tmp_path / "study" / "a" / "1.dcm", tmp_path / "study" / "b" / "2.dcm"]
    folder = sidecar.sidecar_folder(files)
    assert folder == tmp_path / "study"
    assert sidecar.image_key(folder, files[1], 3) == "b/2.dcm#3"
    m = Measurement("BPD", ((1, 2), (3, 4)))
    path = folder / sidecar.SIDECAR_NAME
    folder.mkdir(parents=True)
    result = evaluate(m, calibration_from_dataset(_ds(PixelSpacing=[0.5, 0.5])))
    sidecar.save(path, {"a/1.dcm": [m], "b/2.dcm#3": []}, {m.id: result})
    raw = json.loads(path.read_text())
    assert raw["images"]["a/1.dcm"][0]["unit"] == "mm" and "b/2.dcm#3" not in raw["images"]
    assert sidecar.load(path) == {"a/1.dcm": [m]}
    assert sidecar.load(tmp_path / "missing.json") == {}
    assert not [p for p in folder.iterdir() if p.name.startswith(".cnsight-measurements-")]


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "cannot read the measurements file"),
        ('{"format": "other"}', "not a CNSight measurements file"),
        ('{"format": "cnsight-measurements", "version": 9}', "version 9"),
        (
            '{"format": "cnsight-measurements", "version": 1, "images": '
            '{"a": [{"kind": "BPD", "points": [[1, 2]], "id": "x"}]}}',
            "cannot be read",
        ),
    ],
)
def test_an_unreadable_sidecar_is_refused_and_moved_aside_not_lost(tmp_path, content, message):
    path = tmp_path / sidecar.SIDECAR_NAME
    path.write_text(content)
    with pytest.raises(sidecar.MeasurementFileError, match=message) as err:
        sidecar.load(path)
    assert str(path) in str(err.value)
    moved = sidecar.move_aside(path)
    assert moved.read_text() == content and not path.exists()
    path.write_text(content)
    assert sidecar.move_aside(path).name.endswith("unreadable-2")


def test_saving_where_there_is_no_folder_says_so(tmp_path):
    with pytest.raises(sidecar.MeasurementFileError, match="cannot save"):
        sidecar.save(
            tmp_path / "gone" / sidecar.SIDECAR_NAME, {"a": [Measurement("CM", ((0, 0), (1, 0)))]}
        )


# ----- phantoms: true sizes known ---------------------------------------------------------------
def _phantom_head(tmp_path, index):
    from core.imaging.reader import read_image
    from core.records import ImageRef
    from phantoms.dicom_writer import write_phantom_dicom
    from phantoms.geometry import make_sector
    from phantoms.head import head_size
    from phantoms.phantom_set import iter_rendered, plan_patient
    from phantoms.render import _object_to_pixel
    from phantoms.sites import get_site
    from phantoms.traits import TRANS_THALAMIC

    size = (320, 256)
    plan = plan_patient(5, index, "normal", size)
    image = next(i for i in plan.images if i.plane == TRANS_THALAMIC)
    image = replace(image, view=replace(image.view, calipers=False), cine_frames=1)
    plan = replace(plan, images=(image,))
    path = tmp_path / f"head{index}.dcm"
    write_phantom_dicom(path, next(iter_rendered([plan], size)), 5, size)
    loaded = read_image(ImageRef(path))
    sector = make_sector(get_site(plan.site), size, image.view.depth_mm)
    head, s = head_size(plan.traits), image.view.scale

    def to_px(u, v):
        return _object_to_pixel(image.view, sector, u, v)

    return loaded, head.a * s, head.b * s, head.a, head.b, to_px


def _skull_point(grey, centre, tip):
    """Brightest point (the skull) along centre -> tip, over +/- 20 % of the expected radius,
    averaged over 7 rays within +/- 3 degrees (speckle)."""
    c, d = np.asarray(centre), np.asarray(tip) - np.asarray(centre)
    fractions = np.linspace(0.8, 1.2, 81)
    profile = []
    for f in fractions:
        values = []
        for angle in np.radians(np.linspace(-3, 3, 7)):
            rot = np.array(
                [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
            )
            q = c + rot @ (f * d)
            values.append(grey[int(q[1]), int(q[0])])
        profile.append(np.mean(values))
    return tuple(c + fractions[int(np.argmax(profile))] * d)


@pytest.mark.parametrize("index", [0, 2])
def test_head_circumference_on_a_phantom_in_mm(tmp_path, index):
    """A phantom DICOM's skull is an ellipse of known semi-axes (mm). Calipers on the true
    skull read its true size through the file's US region calibration (error < 0.05 mm); calipers
    snapped to the brightest bone in the pixels read it within 3 % (HC) and 1 mm (BPD)."""
    loaded, a_mm, b_mm, a, b, to_px = _phantom_head(tmp_path, index)
    assert loaded.calibration is not None and loaded.calibration.regions
    true_hc = ramanujan_circumference(a_mm, b_mm)
    exact = evaluate(
        Measurement("HC", (to_px(-a, 0), to_px(a, 0), to_px(0, b))), loaded.calibration
    )
    assert exact.unit == "mm" and exact.scale.source == "ultrasound region 1"
    assert abs(exact.value - true_hc) < 0.05
    assert exact.axes == pytest.approx((2 * a_mm, 2 * b_mm), abs=0.02)
    grey = loaded.pixels[..., 0].astype(float)
    centre = to_px(0, 0)
    found = [_skull_point(grey, centre, to_px(u, v)) for u, v in ((-a, 0), (a, 0), (0, b), (0, -b))]
    snapped = evaluate(Measurement("HC", tuple(found[:3])), loaded.calibration)
    assert abs(snapped.value - true_hc) / true_hc < 0.03
    bpd = evaluate(Measurement("BPD", (found[2], found[3])), loaded.calibration)
    assert abs(bpd.value - 2 * b_mm) < 1.0
    # Outside the fan (the image corner) the same calipers read pixels, with the reason.
    corner = evaluate(Measurement("distance", ((1, 1), (5, 1))), loaded.calibration)
    assert corner.unit == "px" and "outside" in corner.scale.reason
