"""The DICOM tag browser (issue 12): a tree with sequences, tag numbers, keywords, VR and
values, a search box, copy value; de-identified mode hides identifying elements at any depth."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.sequence import Sequence
from PySide6.QtGui import QGuiApplication

from core.records import Cohort, ImageRef, LoadedImage, Patient
from desktop.tag_tree import deidentified, filtered, read_tag_tree
from desktop.viewmodels.cohort import CohortViewModel, PatientPixels
from desktop.widgets.tag_browser import TagTree
from tests.support.dicom_files import base_dataset, region_item, write_dicom


@pytest.fixture
def dicom_file(tmp_path):
    ds = base_dataset(patient_id="PH-123")
    ds.PatientName = "DOE^JANE"
    ds.InstitutionName = "General Hospital"
    ds.StudyDate = "20240105"
    region = region_item(10, 20, 99, 79)
    region.PhysicalUnitsXDirection = 3
    region.PhysicalDeltaX = 0.02
    ds.SequenceOfUltrasoundRegions = Sequence([region, region_item(0, 0, 9, 9)])
    ds.add_new(0x00091010, "LO", "VENDOR SECRET")  # a private tag
    return write_dicom(tmp_path / "img.dcm", np.zeros((80, 100), np.uint8), ds=ds)


def test_the_tree_has_every_element_and_its_sequences(dicom_file):
    tree = read_tag_tree(dicom_file)
    keywords = [n.keyword for n in tree]
    assert keywords[0] == "FileMetaInformationGroupLength" or "TransferSyntaxUID" in keywords
    seq = next(n for n in tree if n.keyword == "SequenceOfUltrasoundRegions")
    assert seq.tag == "(0018,6011)" and seq.vr == "SQ" and len(seq.children) == 2
    item = seq.children[0]
    assert item.name == "Item 1"
    delta = item.find("PhysicalDeltaX")
    assert delta is not None and delta.tag == "(0018,602C)" and delta.vr == "FD"
    assert float(delta.value) == pytest.approx(0.02)
    name = next(n for n in tree if n.keyword == "PatientName")
    assert name.value == "DOE^JANE" and name.name == "Patient's Name" and name.vr == "PN"
    assert any(n.private for n in tree)
    assert not any(n.tag.startswith("(7FE0") for n in tree)  # no pixel data


def test_deidentified_and_search(dicom_file):
    tree = read_tag_tree(dicom_file)
    safe = deidentified(tree)
    kept = {n.keyword for n in safe}
    assert {"PatientName", "PatientID", "InstitutionName", "StudyDate"}.isdisjoint(kept)
    assert "Modality" in kept and not any(n.private for n in safe)
    assert all(not n.keyword.endswith("UID") or n.keyword in ("SOPClassUID", "TransferSyntaxUID",
               "MediaStorageSOPClassUID", "ImplementationClassUID") for n in safe)  # fmt: skip
    found = filtered(tree, "deltax")
    assert [n.keyword for n in found] == ["SequenceOfUltrasoundRegions"]
    assert [c.keyword for c in found[0].children[0].children] == ["PhysicalDeltaX"]
    assert filtered(tree, "(0010,0010)")[0].keyword == "PatientName"
    assert filtered(tree, "no such text") == ()


def _vm(path, header):
    ref = ImageRef(path, patient_id="P")
    vm = CohortViewModel()
    vm.set_cohort(Cohort(str(path.parent), (Patient("P", (ref,)),)))
    image = LoadedImage(ref=ref, pixels=np.zeros((8, 8, 3), np.uint8), header=header)
    vm.set_pixels("P", PatientPixels(images={ref.key: image}))
    return vm


def test_the_browser_shows_searches_copies_and_hides_phi(qtbot, dicom_file):
    vm = _vm(dicom_file, {"Modality": "US"})
    view = TagTree(vm)
    qtbot.addWidget(view)
    assert view.tags()["PatientName"] == "DOE^JANE" and view.tags()["Modality"] == "US"
    top = {view.tree.topLevelItem(i).text(1): view.tree.topLevelItem(i)
           for i in range(view.tree.topLevelItemCount())}  # fmt: skip
    seq = top["SequenceOfUltrasoundRegions"]
    assert seq.text(0) == "(0018,6011)" and seq.text(2) == "SQ" and seq.childCount() == 2
    assert seq.child(0).childCount() >= 8  # the region's elements, expandable
    view.tree.setCurrentItem(top["PatientName"])
    assert view.copy_button.isEnabled()
    assert view.copy_value() == "DOE^JANE"
    assert QGuiApplication.clipboard().text() == "DOE^JANE"
    view.search.setText("physicaldelta")
    assert list(view.tags()) == ["SequenceOfUltrasoundRegions"]
    view.search.setText("")
    vm.set_deidentified(True)
    shown = view.tags()
    assert {"PatientName", "PatientID", "InstitutionName", "StudyDate"}.isdisjoint(shown)
    assert "hidden" in view.note.text()
    view.search.setText("DOE")
    assert view.tags() == {} and "No element matches" in view.note.text()


def test_a_raster_image_says_it_has_no_tags(qtbot, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"")
    view = TagTree(_vm(path, {}))
    qtbot.addWidget(view)
    assert view.tags() == {} and "Not a DICOM file" in view.note.text()


def test_values_stay_visible_in_a_narrow_panel(qtbot, dicom_file):
    view = TagTree(_vm(dicom_file, {"Modality": "US"}))
    qtbot.addWidget(view)
    view.resize(340, 600)
    view.show()
    qtbot.waitExposed(view)
    header = view.tree.header()
    value_left = header.sectionPosition(3)
    assert value_left < view.tree.viewport().width() - 60  # room left for the values
