"""bench/fbau_halves.py: the FBAU selection/test halves are fixed by patient, never mixed."""

import csv

from bench.fbau_halves import half_of, main


def _manifest(path, patients=20, images=3):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "patient_id", "label"])
        for p in range(patients):
            for i in range(images):
                w.writerow([f"img/p{p}_{i}.png", f"P{p:03d}", "normal"])
    return path


def _rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_each_patient_lies_in_one_half_and_half_a_is_sampled(tmp_path):
    manifest = _manifest(tmp_path / "fbau" / "manifest.csv")
    assert main([str(manifest), str(tmp_path / "out"), "--select-images", "10"]) == 0
    a, b = _rows(tmp_path / "out" / "fbau_A.csv"), _rows(tmp_path / "out" / "fbau_B.csv")
    assert len(a) == 10
    assert {r["patient_id"] for r in a}.isdisjoint({r["patient_id"] for r in b})
    assert all(half_of(r["patient_id"]) == "A" for r in a)
    assert all(half_of(r["patient_id"]) == "B" for r in b)
    # Half B is whole, with paths made absolute so the file can live anywhere.
    assert len(b) == 3 * sum(half_of(f"P{p:03d}") == "B" for p in range(20))
    assert all(r["path"].startswith(str(tmp_path)) for r in b)


def test_a_file_without_patient_ids_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\na.png,normal\n")
    assert main([str(bad), str(tmp_path / "out")]) == 2
    assert "patient_id" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
