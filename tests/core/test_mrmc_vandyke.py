"""MRMC analysis against the published Van Dyke results of the trusted tools
(../shared/data/mrmc/EXPECTED.md: OR-DBM MRMC 2.51, RJafroc, MRMCaov). Skips without the data."""

import pytest

from core.mrmc import analyze, load_reads
from core.mrmc.dbm import DBMEffects
from core.mrmc.fom import Fom


@pytest.fixture(scope="module")
def vandyke(shared_data):
    return load_reads(shared_data / "mrmc" / "vandyke.csv")


@pytest.fixture(scope="module")
def jackknife(vandyke):
    return analyze(vandyke)


def test_design_and_empirical_aucs(vandyke, jackknife):
    assert vandyke.design().cases == 114 and vandyke.n_positive == 45 and vandyke.n_negative == 69
    expected = {
        "1": [0.91964573, 0.85877617, 0.90386473, 0.97310789, 0.82979066],
        "2": [0.94782609, 0.90531401, 0.92173913, 0.99935588, 0.92995169],
    }
    for t, values in expected.items():
        assert list(jackknife.fom[t].by_reader.values()) == pytest.approx(values, abs=5e-9)
    assert {t: f.mean for t, f in jackknife.fom.items()} == pytest.approx(
        {"1": 0.89703704, "2": 0.94083736}, abs=5e-9
    )


def test_or_jackknife_mean_squares_and_covariances(jackknife):
    o = jackknife.obuchowski_rockette
    ms, c = o.mean_squares, o.variance_components
    assert (ms.ms_t, ms.ms_r, ms.ms_tr) == pytest.approx(
        (0.00479617, 0.00383620, 0.00055103), abs=5e-9
    )
    assert ms.ms_r_within == pytest.approx((0.00308263, 0.00130460), abs=5e-9)
    assert c.var_r == pytest.approx(0.00153500, abs=5e-9)
    assert c.var_tr == pytest.approx(0.00020040, abs=5e-9)
    assert (c.cov1, c.cov2, c.cov3, c.var_error) == pytest.approx(
        (0.00034661, 0.00034407, 0.00023903, 0.00080229), abs=5e-9
    )
    assert (c.r1, c.r2, c.r3) == pytest.approx((0.43203138, 0.42886683, 0.29793328), abs=5e-9)


def test_or_jackknife_rrrc_matches_rjafroc_to_full_precision(jackknife):
    r = jackknife.obuchowski_rockette.rrrc
    assert r.error_term == pytest.approx(0.00107626, abs=5e-9)
    assert r.f == pytest.approx(4.456318693157262, rel=1e-10)
    assert r.ddf == pytest.approx(15.259674589141751, rel=1e-10)
    assert r.p == pytest.approx(0.051665685819294094, rel=1e-9)
    d = r.differences[0]
    assert d.treatments == ("1", "2") and d.test.estimate == pytest.approx(-0.04380032, abs=5e-9)
    assert d.test.se == pytest.approx(0.02074861837894499, rel=1e-10)
    assert d.test.ci == pytest.approx((-0.08795949856655466, 0.0003588544441713304), rel=1e-9)
    t1, t2 = r.treatments["1"], r.treatments["2"]
    assert (t1.test.se, t1.cov2) == pytest.approx((0.03317360, 0.00048396), abs=5e-9)
    assert t2.test.se == pytest.approx(0.02156637, abs=5e-9)
    assert t1.test.df == pytest.approx(12.74, abs=0.005) and t2.test.df == pytest.approx(
        12.71, abs=0.005
    )
    assert t1.test.ci == pytest.approx((0.82522360, 0.96885048), abs=5e-8)
    assert t2.test.ci == pytest.approx((0.89413783, 0.98753689), abs=5e-8)
    assert t2.cov2 == pytest.approx(0.00020419, abs=5e-9)


def test_or_fixed_readers_and_fixed_cases(jackknife):
    o = jackknife.obuchowski_rockette
    f = o.frrc
    assert f.chi2 == pytest.approx(5.47595, abs=5e-6) and f.df == 1
    assert round(f.p, 4) == 0.0193
    assert f.differences[0].test.se == pytest.approx(0.01872, abs=5e-6)
    assert [round(x, 5) for x in f.differences[0].test.ci] == [-0.08049, -0.00711]
    assert f.treatments["1"].var_error == pytest.approx(0.00101410, abs=5e-9)
    assert f.treatments["2"].var_error == pytest.approx(0.00059047, abs=5e-9)
    reader5 = f.readers["5"][0].test
    assert (round(reader5.estimate, 5), round(reader5.se, 5), round(reader5.p, 4)) == (
        -0.10016,
        0.04406,
        0.0230,
    )
    rrfc = o.rrfc
    assert round(rrfc.f, 2) == 8.70 and rrfc.ddf == 4 and round(rrfc.p, 4) == 0.0420
    assert [round(x, 5) for x in rrfc.differences[0].test.ci] == [-0.08502, -0.00258]


def test_dbm_mean_squares_and_tests(jackknife):
    d = jackknife.dbm
    expected = {
        "t": 0.5467634406, "r": 0.4373267988, "c": 0.3968698842, "tr": 0.0628174909,
        "tc": 0.0998480842, "rc": 0.0645010604, "trc": 0.0399716032,
    }  # fmt: skip
    assert d.mean_squares.to_json() == pytest.approx(expected, abs=5e-11)
    assert d.df == DBMEffects(t=1, r=4, c=113, tr=4, tc=113, rc=452, trc=452)
    comps = d.variance_components
    assert (comps.var_c, comps.var_tc, comps.var_rc) == pytest.approx(
        (0.02724923, 0.01197530, 0.01226473), abs=5e-9
    )
    assert d.rrrc.f == pytest.approx(4.456318693157272, rel=1e-10)
    assert d.rrrc.ddf == pytest.approx(15.259674589141772, rel=1e-10)
    assert d.rrrc.p == pytest.approx(0.05166568581929387, rel=1e-9)
    assert round(d.frrc.f, 2) == 5.48 and round(d.frrc.p, 4) == 0.0210
    assert [round(x, 5) for x in d.frrc.differences[0].test.ci] == [-0.08088, -0.00672]


def test_or_delong_matches_mrmcaov(vandyke):
    o = analyze(vandyke, covariance="delong").obuchowski_rockette
    c = o.variance_components
    assert (c.var_r, c.var_tr, c.var_error) == pytest.approx(
        (0.0015364254, 0.0002045840, 0.0007921325), abs=5e-11
    )
    assert (c.cov1, c.cov2, c.cov3) == pytest.approx(
        (0.0003420090, 0.0003395265, 0.0002358497), abs=5e-11
    )
    r = o.rrrc
    assert (r.error_term, r.f, r.ddf, r.p) == pytest.approx(
        (0.001069415, 4.484854, 15.06611, 0.05123303), rel=1e-6
    )
    assert r.differences[0].test.ci == pytest.approx((-0.0878671960, 0.0002665519), abs=5e-10)
    assert r.treatments["1"].test.se == pytest.approx(0.03307642, abs=5e-9)
    assert r.treatments["2"].test.df == pytest.approx(12.56530, abs=5e-6)


def test_binary_sensitivity_jackknifed_over_abnormal_cases_matches_mrmcaov(vandyke):
    result = analyze(vandyke, Fom("sensitivity", 3))
    sens = [[round(v, 3) for v in result.fom[t].by_reader.values()] for t in ("1", "2")]
    assert sens[0] == [0.889, 0.778, 0.822, 0.933, 0.689]
    assert sens[1] == [0.978, 0.822, 0.911, 1.000, 0.889]
    o = result.obuchowski_rockette
    c = o.variance_components
    assert (c.var_error, c.cov1, c.cov2, c.cov3) == pytest.approx(
        (0.0023681257, 0.0009943883, 0.0010145903, 0.0006604938), abs=5e-11
    )
    r = o.rrrc
    assert (r.f, r.ddf, r.p) == pytest.approx((6.689493, 15.71732, 0.02008822), rel=1e-6)
    assert r.differences[0].test.ci == pytest.approx((-0.1780371, -0.0175185), abs=5e-8)
    t2 = r.treatments["2"]
    assert t2.test.se == pytest.approx(0.03741657, abs=5e-9) and t2.test.df == pytest.approx(
        7.575855, abs=5e-7
    )
    # Clipped to [0, 1] as MRMCaov prints it; the unclipped limit is kept.
    assert t2.test.ci[1] == 1.0 and t2.ci_unclipped[1] == pytest.approx(1.00713, abs=5e-6)


def test_binary_specificity_jackknifed_over_normal_cases(vandyke):
    result = analyze(vandyke, Fom("specificity", 3))
    means = {t: f.mean for t, f in result.fom.items()}
    assert means == pytest.approx({"1": 0.85507, "2": 0.84058}, abs=5e-6)
    r = result.obuchowski_rockette.rrrc
    assert (round(r.f, 5), round(r.ddf, 4), round(r.p, 5)) == (0.20172, 5.5726, 0.67027)
