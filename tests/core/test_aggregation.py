import numpy as np
import pytest

from core.aggregation import aggregate_patient

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
