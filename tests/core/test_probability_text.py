"""A probability is never written as 100 % or 0 % (core.probability_text)."""

import pytest

from core.probability_text import percent


@pytest.mark.parametrize(
    "p, text",
    [(1.0, "> 99.9%"), (0.99951, "> 99.9%"), (0.9984, "99.8%"), (0.5, "50.0%"),
     (0.0004, "< 0.1%"), (0.0, "< 0.1%")],
)  # fmt: skip
def test_extremes_are_bounds_not_certainties(p, text):
    assert percent(p) == text
