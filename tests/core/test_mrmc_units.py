"""MRMC pieces on small hand-checkable inputs, the reads validation, and cnsight-study analyze.
(The full analysis is checked against published results in test_mrmc_vandyke.py.)"""

import csv
import json

import numpy as np
import pytest

from core.errors import ReadsError
from core.mrmc import analyze, load_reads, reads_from_rows
from core.mrmc.covariance import delong_covariance, jackknife_covariance
from core.mrmc.fom import Fom, fom_values, jackknife_values


def _rows(ratings, truth, treatments=("A", "B"), readers=("r1", "r2")):
    """ratings[t][r][c] -> long-format rows."""
    return [
        {
            "reader": r,
            "treatment": t,
            "case": f"c{c}",
            "truth": str(truth[c]),
            "rating": str(ratings[i][j][c]),
        }
        for i, t in enumerate(treatments)
        for j, r in enumerate(readers)
        for c in range(len(truth))
    ]


TRUTH = [1, 1, 0, 0, 0]
# Reader r1 in A: abnormal cases 3, 2; normal 1, 2, 1 -> pairs: 3>all (3), 2>1,=2,>1 (2.5) -> 5.5/6.
RATINGS = [[[3, 2, 1, 2, 1], [5, 4, 3, 2, 1]], [[4, 4, 1, 1, 1], [2, 1, 2, 1, 1]]]


def test_empirical_auc_counts_ties_as_half_and_jackknife_by_hand():
    reads = reads_from_rows(_rows(RATINGS, TRUTH))
    theta = fom_values(reads, Fom())
    assert theta[0, 0] == pytest.approx(5.5 / 6)
    assert theta[0, 1] == 1.0 and theta[1, 0] == 1.0
    # r2 in B: abnormal 2, 1; normal 2, 1, 1 -> 2: =,>,> (2.5); 1: <,=,= (1) -> 3.5/6.
    assert theta[1, 1] == pytest.approx(3.5 / 6)
    jack = jackknife_values(reads, Fom())
    # r1 in A without abnormal case c0 (rating 3): 2 vs 1, 2, 1 -> 2.5/3; without normal c3
    # (rating 2): 3 > 1, 1 and 2 > 1, 1 -> 4/4.
    assert jack[0, 0, 0] == pytest.approx(2.5 / 3)
    assert jack[0, 0, 3] == pytest.approx(1.0)


def test_binary_fom_and_jackknife_over_one_truth_class_only():
    reads = reads_from_rows(_rows(RATINGS, TRUTH))
    sens = Fom("sensitivity", 2)
    assert fom_values(reads, sens)[0, 0] == 1.0  # 3 and 2 are >= 2
    assert fom_values(reads, Fom("specificity", 2))[0, 0] == pytest.approx(
        2 / 3
    )  # 1, 1 < 2; 2 is not
    assert jackknife_values(reads, sens).shape == (2, 2, 2)  # two abnormal cases


def test_delong_and_jackknife_covariances_are_symmetric_and_close():
    rng = np.random.default_rng(0)
    truth = [1] * 20 + [0] * 30
    base = rng.normal(size=50) + np.array(truth) * 1.5
    ratings = [[np.round(base + rng.normal(0, 0.7, 50), 1) for _ in range(3)] for _ in range(2)]
    reads = reads_from_rows(_rows(ratings, truth, readers=("a", "b", "c")))
    jk, dl = jackknife_covariance(reads, Fom()), delong_covariance(reads, Fom())
    assert np.allclose(jk.matrix, jk.matrix.T) and np.allclose(dl.matrix, dl.matrix.T)
    # For the empirical AUC the jackknife is DeLong inflated by about m/(m-1), n/(n-1).
    assert dl.var == pytest.approx(jk.var, rel=0.1)
    with pytest.raises(ReadsError, match="empirical AUC only"):
        delong_covariance(reads, Fom("sensitivity", 0))


def test_three_treatments_give_every_pairwise_difference():
    rng = np.random.default_rng(1)
    truth = [1] * 10 + [0] * 12
    ratings = [[rng.integers(1, 6, 22) + np.array(truth) * k for _ in range(3)] for k in (0, 1, 2)]
    result = analyze(
        reads_from_rows(_rows(ratings, truth, treatments=("x", "y", "z"), readers=("1", "2", "3")))
    )
    pairs = [d.treatments for d in result.obuchowski_rockette.rrrc.differences]
    assert pairs == [("x", "y"), ("x", "z"), ("y", "z")]
    assert result.obuchowski_rockette.rrrc.df1 == 2 and result.dbm.df.t == 2


def test_identical_perfect_readers_do_not_crash_and_json_stays_strict():
    # Every reader separates perfectly in both treatments: all variances are zero.
    truth = [1, 1, 0, 0]
    ratings = [[[5, 5, 1, 1]] * 2] * 2
    result = analyze(reads_from_rows(_rows(ratings, truth)))
    rrrc = result.obuchowski_rockette.rrrc
    assert rrrc.differences[0].test.estimate == 0.0 and rrrc.differences[0].test.p is None
    from core.metrics import json_ready

    json.dumps(json_ready(result.to_json()), allow_nan=False)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda rows: rows[:-1], "not fully crossed - 1 of 20 reads are missing"),
        (lambda rows: rows + [dict(rows[0])], "rated case c0 twice"),
        (lambda rows: [dict(rows[0], truth="0")] + rows[1:], "has truth"),
        (lambda rows: [dict(rows[0], truth="maybe")] + rows[1:], "truth must be 0"),
        (lambda rows: [dict(rows[0], rating="high")] + rows[1:], "rating must be a number"),
        (lambda rows: [dict(rows[0], rating="nan")] + rows[1:], "rating must be finite"),
        (lambda rows: [dict(rows[0], reader="")] + rows[1:], "empty or missing reader"),
        (lambda rows: [r for r in rows if r["treatment"] == "A"], "at least 2 treatments"),
        (lambda rows: [r for r in rows if r["reader"] == "r1"], "at least 2 readers"),
        (lambda rows: [r for r in rows if r["case"] != "c0"], "at least 2 abnormal"),
        (lambda rows: [], "no reads"),
    ],
)
def test_bad_reads_are_refused_with_a_clear_message(mutate, message):
    with pytest.raises(ReadsError, match=message):
        reads_from_rows(mutate(_rows(RATINGS, TRUTH)))


def _write(path, rows, columns=("reader", "treatment", "case", "truth", "rating")):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_load_reads_checks_columns_and_file(tmp_path):
    with pytest.raises(ReadsError, match="no such file"):
        load_reads(tmp_path / "none.csv")
    bad = _write(
        tmp_path / "bad.csv",
        _rows(RATINGS, TRUTH),
        columns=("reader", "treatment", "case", "rating"),
    )
    with pytest.raises(ReadsError, match="missing column"):
        load_reads(bad)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ReadsError, match="UTF-8"):
        load_reads(tmp_path / "bin.csv")
    # Extra columns are ignored and readers sort numerically (10 after 9).
    rows = _rows(RATINGS, TRUTH, readers=("9", "10"))
    reads = load_reads(
        _write(
            tmp_path / "ok.csv",
            [dict(r, note="x") for r in rows],
            columns=("note", "reader", "treatment", "case", "truth", "rating"),
        )
    )
    assert reads.readers == ("9", "10") and reads.ratings.shape == (2, 2, 5)


def test_cnsight_study_analyze_writes_json_and_report(tmp_path, caplog):
    from core.cli.study import main

    rng = np.random.default_rng(2)
    truth = [1] * 15 + [0] * 15
    ratings = [
        [rng.integers(1, 6, 30) + np.array(truth) * (1 + t) for _ in range(3)] for t in range(2)
    ]
    reads = _write(tmp_path / "reads.csv", _rows(ratings, truth, readers=("1", "2", "3")))
    out = tmp_path / "out"
    assert main(["analyze", "--reads", str(reads), "--out", str(out)]) == 0
    analysis = json.loads((out / "analysis.json").read_text())
    assert (
        analysis["design"]["readers"] == ["1", "2", "3"]
        and analysis["figure_of_merit"]["name"] == "auc"
    )
    assert set(analysis["obuchowski_rockette"]) >= {"rrrc", "frrc", "rrfc", "variance_components"}
    assert "command" in analysis and analysis["research_use_only"]
    # The file's layout, key by key and in order (it is serialised from the dataclasses).
    assert list(analysis) == [
        "research_use_only", "command", "source", "design", "figure_of_merit", "alpha", "fom",
        "treatment_means", "obuchowski_rockette", "dbm", "study_design", "class_call",
        "reading_time", "ai_standalone", "automation_bias", "second_read", "warnings", "skipped",
    ]  # fmt: skip
    assert analysis["class_call"] is None and len(analysis["skipped"]) == 4  # rating only
    or_ = analysis["obuchowski_rockette"]
    assert list(or_) == [
        "covariance", "covariance_method", "mean_squares", "variance_components", "rrrc", "frrc",
        "rrfc",
    ]  # fmt: skip
    assert list(or_["mean_squares"]) == ["ms_t", "ms_r", "ms_tr", "ms_r_within", "df"]
    assert list(or_["variance_components"]) == [
        "var_r", "var_tr", "var_error", "cov1", "cov2", "cov3", "r1", "r2", "r3",
    ]  # fmt: skip
    test_keys = ["error_term", "f", "df1", "ddf", "p", "differences"]
    difference_keys = ["treatments", "estimate", "se", "df", "statistic", "p", "ci"]
    assert list(or_["rrrc"]) == [*test_keys, "treatments"]
    assert list(or_["rrrc"]["differences"][0]) == difference_keys
    assert list(or_["rrrc"]["treatments"]["A"]) == [
        *difference_keys[1:], "ci_unclipped", "cov2", "ms_r",
    ]  # fmt: skip
    assert list(or_["frrc"]) == [
        "error_term", "chi2", "df", "p", "differences", "treatments", "readers",
    ]  # fmt: skip
    assert list(or_["frrc"]["treatments"]["A"]) == [
        *difference_keys[1:],
        "ci_unclipped",
        "var_error",
    ]
    assert list(or_["frrc"]["readers"]["3"][0]) == difference_keys
    assert list(or_["rrfc"]["treatments"]["B"]) == [*difference_keys[1:], "ci_unclipped"]
    dbm = analysis["dbm"]
    assert list(dbm) == ["mean_squares", "df", "variance_components", "rrrc", "frrc", "rrfc"]
    assert list(dbm["df"]) == ["t", "r", "c", "tr", "tc", "rc", "trc"] == list(dbm["mean_squares"])
    assert list(dbm["rrfc"]) == test_keys
    report = (out / "report.html").read_text()
    assert "Obuchowski-Rockette" in report and "data:image/png;base64," in report
    assert (
        main(
            [
                "analyze",
                "--reads",
                str(reads),
                "--out",
                str(tmp_path / "o2"),
                "--fom",
                "sensitivity",
            ]
        )
        == 2
    )
    assert "needs a rating threshold" in caplog.text
    assert main(["analyze", "--reads", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2
    assert main(["analyze", "--reads", str(reads), "--out", str(out), "--alpha", "2"]) == 2
