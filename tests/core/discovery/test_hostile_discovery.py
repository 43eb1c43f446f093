"""Hostile inputs to discovery (issue 15): every one gives a row naming it and the others
still load; nothing loops, nothing escapes the data folder, nothing disappears silently."""

from __future__ import annotations

import os
import threading

import pytest

from core.discovery import discover
from core.errors import DiscoveryError
from tests.fuzz import hostile as H

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _discover_within(inputs, seconds: float = 60.0):
    """discover() on a thread; a hang fails the test instead of blocking the suite."""
    result: dict = {}

    def run():
        try:
            result["cohort"] = discover(inputs)
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"discover({inputs}) still running after {seconds} s"
    if "error" in result:
        raise result["error"]
    return result["cohort"]


def _errors(cohort) -> dict[str, str]:
    return {e.path: e.message for e in cohort.errors}


@pytest.mark.parametrize("how", ["self", "cycle", "lower-self", "dangling"])
def test_dicomdir_whose_records_loop_is_refused(tmp_path, how):
    """A record offset pointing at itself made pydicom's FileSet loop forever."""
    dicomdir = H.relink_dicomdir(H.dicomdir_folder(tmp_path / "media", 3), how)
    with pytest.raises(DiscoveryError, match=r"corrupt DICOMDIR"):
        _discover_within(dicomdir)


def test_a_looping_dicomdir_costs_only_itself(tmp_path):
    dicomdir = H.relink_dicomdir(H.dicomdir_folder(tmp_path / "media", 2), "self")
    good = H.good_png(tmp_path / "good.png")
    cohort = _discover_within([dicomdir, good])
    assert [str(r.path) for r in cohort.images] == [str(good)]
    assert "corrupt DICOMDIR" in _errors(cohort)[str(dicomdir)]


def test_dicomdir_reference_outside_its_folder_is_not_read(tmp_path):
    secret = H.native_dicom(tmp_path / "SECRET")
    dicomdir = H.dicomdir_folder(tmp_path / "media", 2)
    H.referenced_outside(dicomdir, "SECRET")
    good = H.good_png(tmp_path / "good.png")
    cohort = _discover_within([dicomdir, good])  # pydicom refuses it whole: one row
    assert all(r.path.resolve() != secret.resolve() for r in cohort.images)
    assert "must be inside the DICOMDIR root path" in _errors(cohort)[str(dicomdir)]


def test_manifest_row_with_a_nul_byte_names_the_manifest(tmp_path):
    good = H.good_png(tmp_path / "good.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,patient_id\ngood.png,A\nba\x00d.png,B\n", encoding="utf-8")
    cohort = _discover_within(manifest)
    assert [r.path for r in cohort.images] == [good.resolve()]
    ((path, message),) = _errors(cohort).items()
    assert path == f"{manifest}:3"
    assert message.startswith("manifest m.csv line 3: unusable path")


def test_manifest_row_pointing_at_a_symlink_loop(tmp_path):
    H.good_png(tmp_path / "good.png")
    os.symlink(tmp_path / "loop_b", tmp_path / "loop_a")
    os.symlink(tmp_path / "loop_a", tmp_path / "loop_b")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,patient_id\ngood.png,A\nloop_a,B\n", encoding="utf-8")
    cohort = _discover_within(manifest)
    assert len(cohort.images) == 1
    assert any("line 3" in m for m in _errors(cohort).values())


def test_symlinked_patient_folder_outside_the_data_folder_is_not_followed(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    H.good_png(outside / "private.png")
    data = tmp_path / "data"
    (data / "normal" / "P1").mkdir(parents=True)
    H.good_png(data / "normal" / "P1" / "a.png")
    os.symlink(outside, data / "normal" / "P2")
    (data / "loose").mkdir()
    H.good_png(data / "loose" / "b.png")
    os.symlink(outside / "private.png", data / "loose" / "link.png")
    for root in (data, data / "loose"):
        cohort = _discover_within(root)
        assert all("elsewhere" not in str(r.path.resolve()) for r in cohort.images)
    errors = _errors(_discover_within(data))
    assert "outside the folder being read" in errors[str(data / "normal" / "P2")]


def test_symlink_inside_the_data_folder_is_still_followed(tmp_path):
    data = tmp_path / "data"
    (data / "real").mkdir(parents=True)
    H.good_png(data / "real" / "a.png")
    os.symlink(data / "real" / "a.png", data / "alias.png")
    os.symlink(data, data / "real" / "up")  # a loop back to the root
    cohort = _discover_within(data)
    assert {r.path.name for r in cohort.images} == {"a.png", "alias.png"}
    assert "read already" in _errors(cohort)[str(data / "real" / "up")]


def test_folder_named_like_a_file_and_empty_folders_each_give_a_row(tmp_path):
    data = tmp_path / "data"
    (data / "x.dcm").mkdir(parents=True)
    (data / "P3").mkdir()
    H.good_png(data / "good.png")
    errors = _errors(_discover_within(data))
    assert "folder named like an image file (x.dcm)" in errors[str(data / "x.dcm")]
    assert "empty folder" in errors[str(data / "P3")]


def test_an_empty_folder_among_several_inputs_gives_a_row(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    good = H.good_png(tmp_path / "good.png")
    cohort = _discover_within([empty, good])
    assert "empty" in _errors(cohort)[str(empty)]


def test_a_missing_input_among_several_costs_only_itself(tmp_path):
    good = H.good_png(tmp_path / "good.png")
    cohort = _discover_within([tmp_path / "typo", good])
    assert len(cohort.images) == 1
    assert "no such file or folder" in _errors(cohort)[str(tmp_path / "typo")]


def test_file_name_that_is_not_utf8_is_found(tmp_path):
    path = H.non_utf8_name(tmp_path)
    cohort = _discover_within(tmp_path)
    assert [r.path for r in cohort.images] == [path]
