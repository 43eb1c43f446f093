"""docs/reader-study.md's worked example, end to end: a sequential study with practice cases,
created, read (simulated readers), verified, exported to every format, analysed and sized."""

from __future__ import annotations

import json

from tests.core.test_mrmc_formats import parse_imrmc, parse_rjafroc
from tests.support.sequential_example import run


def test_a_sequential_study_end_to_end(tmp_path):
    out = run(tmp_path)
    analysis = json.loads((out / "analysis" / "analysis.json").read_text())
    assert analysis["study_design"] == "sequential" and analysis["skipped"] == []
    assert analysis["design"]["readers"] == ["R1", "R2", "R3", "R4"]
    assert analysis["design"]["cases"] == 28  # 30 patients, 2 of them practice cases
    assert set(analysis["class_call"]["mean_accuracy"]) == {"aided", "unaided"}
    assert {s["figure_of_merit"] for s in analysis["ai_standalone"]} == {"auc", "class accuracy"}
    assert [b["kind"] for b in analysis["automation_bias"]] == ["class", "abnormal (rating >= 50)"]
    assert analysis["reading_time"]["sequential_aided_is_first_plus_final"] is True
    assert 0 < analysis["second_read"]["changed"] < 1
    assert any("sequential design" in w for w in analysis["warnings"])
    report = (out / "analysis" / "report.html").read_text()
    for heading in ("Class call", "Reading time", "AI alone vs the unaided readers",
                    "Automation bias", "Second read", "Warnings"):  # fmt: skip
        assert f"<h2>{heading}" in report
    counts, truth, scores = parse_imrmc(out / "reads.imrmc")
    assert counts["NR"] == 4 and counts["NM"] == 2 and len(scores) == 2 * 4 * 28
    assert len(parse_rjafroc(out / "reads.xlsx")[1]) == 2 * 4 * 28
    size = json.loads((out / "size.json").read_text())
    assert [row["readers"] for row in size["table"]] == [4, 6, 8, 10]
