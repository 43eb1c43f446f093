"""The reader study's other questions (issue 11, item 3) on hand-checkable inputs: the class call,
reading time, the AI alone vs the readers, automation bias, the second read, study size and
the design warnings. The published Van Dyke checks of study size are at the end (they skip
without ../shared/data)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from core.mrmc import analyze
from core.mrmc.automation_bias import automation_bias
from core.mrmc.case_or import or_of_scores, score_reads
from core.mrmc.classcall import class_call_analysis
from core.mrmc.fom import Fom
from core.mrmc.reading_time import reading_time_analysis
from core.mrmc.reads import Reads
from core.mrmc.sample_size import PilotComponents, cases_needed, power
from core.mrmc.standalone import readers_vs_ai
from core.mrmc.study_analysis import analyze_study
from core.mrmc.study_reads import StudyReads, study_reads_from_rows

N, A, E = "normal", "anencephaly", "encephalocele"
TRUTH = np.array([N, N, A, A, E, E], dtype=object)


def _sr(calls, ratings=None, seconds=None, ai_class=None, ai_rating=None, design="crossover"):
    """StudyReads of 2 treatments (unaided, aided) x R readers x 6 cases from calls[t][r]."""
    calls = np.array(calls, dtype=object)
    t, r, c = calls.shape
    truth = TRUTH != N
    if ratings is None:
        ratings = np.where(calls != N, 80.0, 20.0)
    reads = Reads(("aided", "unaided"), tuple(f"R{i + 1}" for i in range(r)), tuple(f"C{k + 1}" for k in range(c)), truth, np.asarray(ratings, float))  # fmt: skip
    return StudyReads(
        reads, design, calls, TRUTH, None if seconds is None else np.asarray(seconds, float),
        None if ai_class is None else np.array(ai_class, dtype=object),
        None if ai_rating is None else np.asarray(ai_rating, float),
    )  # fmt: skip


# treatment 0 = aided, 1 = unaided (the order Reads sorts them in)
CALLS = [
    [[N, N, A, A, E, E], [N, A, A, A, E, N], [N, N, A, E, E, E]],  # aided: 6/6, 4/6, 5/6
    [[N, A, A, N, E, N], [N, A, A, A, E, N], [A, N, A, N, E, E]],  # unaided: 3/6, 4/6, 4/6
]


def test_class_accuracy_kappa_and_per_class_rates_by_hand():
    cc = class_call_analysis(_sr(CALLS))
    assert cc.accuracy["aided"] == pytest.approx({"R1": 1.0, "R2": 4 / 6, "R3": 5 / 6})
    assert cc.accuracy["unaided"] == pytest.approx({"R1": 0.5, "R2": 4 / 6, "R3": 4 / 6})
    # R2 (both treatments): truth 2 N, 2 A, 2 E; calls 2 N, 3 A, 1 E -> po 4/6, pe 12/36 -> 0.5
    assert cc.kappa["aided"]["R2"] == pytest.approx(0.5)
    assert cc.kappa["aided"]["R1"] == pytest.approx(1.0)
    a = cc.per_class["aided"][A]  # A called on 2/2, 2/2, 1/2 A cases; on 0, 1, 0 of 4 others
    assert (a.cases, a.sensitivity, a.specificity) == (
        2,
        pytest.approx(5 / 6),
        pytest.approx(11 / 12),
    )
    assert a.sensitivity_ci[0] <= a.sensitivity <= a.sensitivity_ci[1]
    assert cc.confusion["aided"][0] == [5, 1, 0]  # truth normal: 5 called normal, 1 anencephaly
    assert sum(map(sum, cc.confusion["unaided"])) == 18
    # OR on accuracy: Var(error) of a mean by the jackknife is the sample variance / K
    correct = (np.array(CALLS, dtype=object) == TRUTH).astype(float)
    var = np.mean([correct[t, r].var(ddof=1) / 6 for t in range(2) for r in range(3)])
    assert cc.accuracy_or.variance_components.var_error == pytest.approx(var)
    diff = cc.accuracy_or.rrrc.differences[0]
    assert diff.treatments == ("aided", "unaided")
    assert diff.test.estimate == pytest.approx((15 - 11) / 18)


def test_reading_time_ratio_of_geometric_means_and_the_sequential_total():
    rng = np.random.default_rng(0)
    unaided = rng.lognormal(3, 0.5, size=(3, 6))
    halved = _sr(CALLS, seconds=[unaided / 2, unaided])
    rt = reading_time_analysis(halved)
    assert rt.median["aided"] == pytest.approx(rt.median["unaided"] / 2)
    ratio, ci, _p = rt.ratios[("aided", "unaided")]
    assert ratio == pytest.approx(0.5) and ci == pytest.approx((0.5, 0.5))  # no variability
    noisy = unaided * rng.lognormal(0, 0.3, size=(3, 6)) / 2
    ratio, (low, high), p = reading_time_analysis(_sr(CALLS, seconds=[noisy, unaided])).ratios[("aided", "unaided")]  # fmt: skip
    assert low < ratio < high and ratio == pytest.approx(math.exp(np.log(noisy / unaided).mean()))
    seq = reading_time_analysis(_sr(CALLS, seconds=[unaided / 2, unaided], design="sequential"))
    assert seq.sequential_total and seq.median["aided"] == pytest.approx(np.median(unaided * 1.5))


def _standalone_reads(rng, readers=4, cases=30):
    truth = np.arange(cases) < cases // 2
    ratings = rng.normal(size=(1, readers, cases)) + truth * 1.2
    reads = Reads(("unaided",), tuple(f"R{i}" for i in range(readers)), tuple(f"C{k:02d}" for k in range(cases)), truth, ratings)  # fmt: skip
    ai = rng.normal(size=cases) + truth * 1.5
    return reads, ai


def test_ai_vs_readers_by_hand_on_four_cases():
    truth = np.array([True, True, False, False])  # abnormal a, b; normal c, d
    ratings = np.array([[[3, 1, 2, 0], [3, 1.5, 2, 0]]], float)  # both: a > c, d; b > d only
    reads = Reads(("unaided",), ("R1", "R2"), ("a", "b", "c", "d"), truth, ratings)
    c = readers_vs_ai(reads, np.array([4, 3, 2, 1.0]), Fom("auc"), "auc")  # the AI: AUC 1
    assert c.ai == 1.0 and c.readers == {"R1": 0.75, "R2": 0.75} and c.mean_readers == 0.75
    assert c.difference == pytest.approx(-0.25) and c.ms_r == 0.0
    # Leaving out a, b, c, d: each reader's AUC 1/2, 1, 1, 1/2 (the AI's stays 1), so psi =
    # (-1/2, 0, 0, -1/2), centred (-1/4, 1/4, 1/4, -1/4): Var = Cov2 = 3/4 x 4/16 = 3/16.
    assert c.var_error == pytest.approx(3 / 16) and c.cov2 == pytest.approx(3 / 16)
    # error = MS(R) + J Cov2 = 3/8; t = -1/4 / sqrt(3/16); MS(R) = 0: infinite ddf (normal)
    assert c.t == pytest.approx(-0.25 / math.sqrt(3 / 16)) and c.df is None
    assert c.p == pytest.approx(2 * stats.norm.sf(0.25 / math.sqrt(3 / 16)))
    q = stats.norm.ppf(0.975) * math.sqrt(3 / 16)
    assert c.ci == pytest.approx((-0.25 - q, -0.25 + q))


def test_ai_vs_readers_equals_kooi_dual_treatment_or():
    """Kooi et al.: the AI's ratings copied to every reader as a second treatment, then the
    usual OR analysis: the same F (= t^2), ddf and p as the single-treatment form."""
    reads, ai = _standalone_reads(np.random.default_rng(3))
    single = readers_vs_ai(reads, ai, Fom("auc"), "auc")
    dual = Reads(("AI", "unaided"), reads.readers, reads.cases, reads.truth, np.concatenate([np.tile(ai, (1, len(reads.readers), 1)), reads.ratings]))  # fmt: skip
    rrrc = analyze(dual).obuchowski_rockette.rrrc
    assert single.t**2 == pytest.approx(rrrc.f) and single.df == pytest.approx(rrrc.ddf)
    assert single.p == pytest.approx(rrrc.p)
    assert -single.difference == pytest.approx(rrrc.differences[0].test.estimate)
    assert (-single.ci[1], -single.ci[0]) == pytest.approx(rrrc.differences[0].test.ci)


def test_automation_bias_by_hand():
    # AI wrong on C2 (says anencephaly, truth normal) and C6 (says normal, truth encephalocele)
    ai = [N, A, A, A, E, N]
    calls = [
        [[N, A, A, A, E, N], [N, N, A, A, E, E], [N, A, A, A, E, E]],  # aided
        [[N, N, A, A, E, E], [N, N, A, A, E, E], [N, A, A, A, E, N]],  # unaided
    ]
    sr = _sr(calls, ai_class=ai, ai_rating=[10, 90, 90, 90, 90, 10], design="sequential")
    b = automation_bias(sr)[0]
    assert b.kind == "class" and b.ai_wrong_cases == 2
    # on C2, C6: aided correct R1 0/2, R2 2/2, R3 1/2 -> 3/6; unaided 2/2, 2/2, 0/2 -> 4/6
    assert b.accuracy_aided == pytest.approx(3 / 6) and b.accuracy_unaided == pytest.approx(4 / 6)
    assert b.followed_aided == pytest.approx(3 / 6) and b.agreed_unaided == pytest.approx(2 / 6)
    assert b.switched == pytest.approx(2 / 6)  # R1 on both cases took the AI's call
    assert b.difference_ci is None  # 2 cases: too few for an interval
    assert b.by_reader["R1"] == {"accuracy_unaided": 1.0, "accuracy_aided": 0.0, "followed": 1.0}
    binary = automation_bias(sr)[1]  # AI rating >= 50 wrong on C2 (normal) and C6 (abnormal)
    assert binary.ai_wrong_cases == 2


def test_study_analysis_of_exported_rows_warns_about_a_small_design():
    rows = []
    for t, calls in zip(("aided", "unaided"), CALLS, strict=True):
        for j, reader_calls in enumerate(calls[:2]):
            for k, call in enumerate(reader_calls):
                rows.append({
                    "reader": f"R{j + 1}", "treatment": t, "case": f"C{k + 1}",
                    "truth": str(int(TRUTH[k] != N)), "rating": "80" if call != N else "20",
                    "class_call": call, "truth_class": TRUTH[k], "seconds": str(10 + k + j),
                    "design": "sequential", "read": "final" if t == "aided" else "first",
                    "ai_class": [N, A, A, A, E, N][k] if t == "aided" else "",
                    "ai_rating": ("90" if k in (1, 2, 3, 4) else "10") if t == "aided" else "",
                })  # fmt: skip
    study = analyze_study(study_reads_from_rows(rows))
    text = " ".join(study.warnings)
    assert "only 2 readers" in text and "only 4 abnormal cases" in text
    assert "sequential design" in text and not study.skipped
    assert {s.figure_of_merit for s in study.standalone} == {"auc", "class accuracy"}
    # R1's final read changed C2, C4 and C6 (all three wrong first, right finally); R2's none
    assert study.second_read.changed == pytest.approx(3 / 12)
    assert study.to_json()["second_read"] | {"by_reader": None} == {
        "changed": 0.25, "class_changed": 0.25, "corrected": 3, "spoiled": 0, "by_reader": None,
    }  # fmt: skip


def test_power_and_cases_needed_by_the_formula():
    """No reader variance: den = K*/K Var, ddf = J - 1, ncp = J d^2 / (2 den)."""
    pilot = PilotComponents(cases=100, var_tr=0.0, var_error=0.001, cov1=0.0, cov2=0.0, cov3=0.0)
    p = power(pilot, readers=5, cases=100, effect=0.05)
    assert p.ddf == pytest.approx(4) and p.ncp == pytest.approx(6.25)
    assert p.power == pytest.approx(stats.ncf.sf(stats.f.ppf(0.95, 1, 4), 1, 4, 6.25))
    need = cases_needed(pilot, readers=5, effect=0.05, target=0.8)
    assert need.power >= 0.8 > power(pilot, 5, need.cases - 1, 0.05).power
    capped = PilotComponents(100, 0.01, 0.001, 0.0, 0.0, 0.0)  # Var(T*R) caps the power
    assert cases_needed(capped, readers=3, effect=0.05) is None


@pytest.fixture(scope="module")
def vandyke_pilot(shared_data):
    from core.mrmc import load_reads

    a = analyze(load_reads(shared_data / "mrmc" / "vandyke.csv"))
    c = a.obuchowski_rockette.variance_components
    effect = a.obuchowski_rockette.rrrc.differences[0].test.estimate
    return PilotComponents(114, c.var_tr, c.var_error, c.cov1, c.cov2, c.cov3), effect


def test_study_size_matches_rjafroc_on_van_dyke(vandyke_pilot):
    """RJafroc's tests (tests/testthat, "Sample Size ROC"): for dataset02 (Van Dyke), the
    observed effect size, J = 6: SsPowerGivenJK(K = 111, ORH, RRRC) = 0.5526116, and
    SsSampleSizeKGivenJ(J = 6, RRRC) = 251 cases for power 0.8."""
    pilot, effect = vandyke_pilot
    assert power(pilot, 6, 111, effect).power == pytest.approx(0.5526116, abs=5e-8)
    assert cases_needed(pilot, 6, effect, 0.8).cases == 251


def test_or_of_a_mean_is_unbounded_when_asked():
    reads = score_reads(
        Reads(
            ("a", "b"),
            ("1", "2", "3"),
            tuple("cdefgh"),
            np.array([1, 1, 1, 0, 0, 0], bool),
            np.zeros((2, 3, 6)),
        ),  # fmt: skip
        np.full((2, 3, 6), 5.0) + np.arange(6),
    )
    single = or_of_scores(reads, 0.05, bounded=False).rrrc.treatments["a"]
    assert single.test.estimate == pytest.approx(7.5) and single.test.ci[0] > 1  # not clipped
