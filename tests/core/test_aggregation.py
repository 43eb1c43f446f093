import numpy as np
import pytest

from core.aggregation import NOT_ASSESSABLE, aggregate_patient

NAMES = ("normal", "anencephaly", "encephalocele")


def test_mean_softmax_differs_from_majority_vote():
    # Two images mildly normal, one strongly encephalocele: the mean says encephalocele,
    # the vote says normal. Hand-computed: mean = [0.4, 0.033.., 0.566..].
    probs = np.array([[0.55, 0.05, 0.40], [0.55, 0.05, 0.40], [0.10, 0.00, 0.90]])
    keys = ["a", "b", "c"]
    mean = aggregate_patient("p", probs, keys, NAMES, "mean_softmax")
    assert mean.pred == "encephalocele"
    np.testing.assert_allclose(mean.probs, [0.4, 0.1 / 3, 1.7 / 3])
    assert mean.drivers[0] == ("c", 0.9)
    assert mean.n_images == 3 and mean.rule == "mean_softmax" and "mean" in mean.rule_text
    vote = aggregate_patient("p", probs, keys, NAMES, "majority_vote")
    assert vote.pred == "normal"
    assert [k for k, _ in vote.drivers] == ["a", "b"]
    np.testing.assert_allclose(vote.probs, [2 / 3, 0, 1 / 3], atol=1e-5)


def test_vote_tie_broken_by_mean_probability():
    probs = np.array([[0.6, 0.4, 0.0], [0.0, 0.9, 0.1]])
    assert aggregate_patient("p", probs, ["a", "b"], NAMES, "majority_vote").pred == "anencephaly"


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown aggregation rule"):
        aggregate_patient("p", np.ones((1, 3)) / 3, ["a"], NAMES, "max")
    with pytest.raises(ValueError, match="N x 3"):
        aggregate_patient("p", np.ones((0, 3)), [], NAMES)
    with pytest.raises(ValueError, match="one image key"):
        aggregate_patient("p", np.ones((2, 3)) / 3, ["a"], NAMES)


def test_geometric_mean_lets_one_image_that_rules_out_normal_win():
    # A typical encephalocele study: two views where the sac cannot be seen (mildly normal)
    # and one where it is (normal nearly ruled out). The arithmetic mean is outvoted;
    # the geometric mean is not. Hand-computed: log-means
    # arithmetic: normal 1.41/3 = 0.47 > enceph. 1.38/3 = 0.46; geometric (unnormalised):
    # normal (.7 * .7 * .01)^(1/3) = 0.170 < enceph. (.2 * .2 * .98)^(1/3) = 0.340.
    probs = np.array([[0.7, 0.1, 0.2], [0.7, 0.1, 0.2], [0.01, 0.01, 0.98]])
    keys = ["tt1", "tt2", "tv"]
    assert aggregate_patient("p", probs, keys, NAMES, "mean_softmax").pred == "normal"
    geo = aggregate_patient("p", probs, keys, NAMES, "geometric_mean")
    assert geo.pred == "encephalocele"
    g = np.exp(np.log(probs).mean(axis=0))
    np.testing.assert_allclose(geo.probs, g / g.sum())
    np.testing.assert_allclose(geo.probs.sum(), 1.0)
    assert geo.drivers[0] == ("tv", 0.98)
    assert "geometric" in geo.rule_text


def test_geometric_mean_of_one_image_is_that_image_and_zeros_do_not_veto_forever():
    one = np.array([[0.2, 0.3, 0.5]])
    np.testing.assert_allclose(
        aggregate_patient("p", one, ["a"], NAMES, "geometric_mean").probs, one[0]
    )
    # An exact 0 (fp16 underflow) is floored: five confident images still beat it.
    probs = np.array([[0.0, 0.0, 1.0]] + [[0.99, 0.0, 0.01]] * 5)
    geo = aggregate_patient("p", probs, list("abcdef"), NAMES, "geometric_mean")
    assert np.isfinite(geo.probs).all() and geo.pred == "normal"


@pytest.mark.parametrize("rule", ["mean_softmax", "geometric_mean", "majority_vote"])
def test_a_cine_counts_as_one_view(rule):
    # One still shows the defect; a normal-looking cine of 6 frames must not outvote it 6:1.
    # Pooled per view: [0.1, 0, 0.9] (still) and [0.6, 0, 0.4] (cine) -> encephalocele under
    # every rule; per frame the cine's 6 rows would win (mean normal = 0.53; 6 votes to 1).
    probs = np.array([[0.1, 0.0, 0.9]] + [[0.6, 0.0, 0.4]] * 6)
    keys = ["still.dcm"] + [f"cine.dcm#{i}" for i in range(6)]
    views = ["still.dcm"] + ["cine.dcm"] * 6
    per_frame = aggregate_patient("p", probs, keys, NAMES, rule)
    assert per_frame.pred == "normal"
    per_view = aggregate_patient("p", probs, keys, NAMES, rule, views=views)
    assert per_view.pred == "encephalocele"
    assert per_view.n_images == 7 and per_view.drivers[0] == ("still.dcm", 0.9)
    # One driver per view: the still, then the cine's best frame - not three frames of the cine
    # (under majority_vote only images that voted for the verdict drive it: the still alone).
    expected = ["still.dcm"] if rule == "majority_vote" else ["still.dcm", "cine.dcm#0"]
    assert [key for key, _ in per_view.drivers] == expected
    with pytest.raises(ValueError, match="one view per row"):
        aggregate_patient("p", probs, keys, NAMES, rule, views=views[:3])


def test_only_assessable_views_count_and_none_gives_not_assessable():
    probs = np.array([[0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1]])
    keys = ["a", "b", "c"]
    # b (the only "normal" view) is outside the validated domain: it must not vote.
    verdict = aggregate_patient("p", probs, keys, NAMES, "mean_softmax", assessable=[1, 0, 1])
    assert verdict.pred == NAMES[1] and verdict.n_views == 2 and verdict.n_excluded == 1
    assert "images_excluded" in verdict.flags and "b" not in dict(verdict.drivers)
    assert verdict.counts_text == "2 views (3 frames; 1 not assessable)"
    none = aggregate_patient("p", probs, keys, NAMES, "geometric_mean", assessable=[0, 0, 0])
    assert not none.assessable and none.pred == NOT_ASSESSABLE and none.pred_index == -1
    assert np.isnan(none.probs).all() and none.drivers == ()


def test_flags_single_view_and_disagreeing_views():
    one = aggregate_patient("p", np.array([[0.2, 0.7, 0.1]]), ["a"], NAMES)
    assert one.flags == ("single_view",)
    split = aggregate_patient("p", np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]), ["a", "b"], NAMES)
    assert "views_disagree" in split.flags and "single_view" not in split.flags
    agree = aggregate_patient("p", np.array([[0.2, 0.7, 0.1], [0.3, 0.6, 0.1]]), ["a", "b"], NAMES)
    assert agree.flags == ()
    assert "single view" in one.flag_texts[0]


def test_patient_temperature_calibrates_the_pooled_figure():
    probs = np.array([[0.02, 0.97, 0.01]] * 4)
    raw = aggregate_patient("p", probs, list("abcd"), NAMES, "geometric_mean")
    soft = aggregate_patient("p", probs, list("abcd"), NAMES, "geometric_mean", temperature=3.0)
    assert not raw.calibrated and soft.calibrated
    assert soft.pred == raw.pred and soft.probs[1] < raw.probs[1]
    np.testing.assert_allclose(soft.probs.sum(), 1.0)
    vote = aggregate_patient("p", probs, list("abcd"), NAMES, "majority_vote", temperature=3.0)
    assert not vote.calibrated  # vote fractions are not probabilities: stays a score
