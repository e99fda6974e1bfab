import math

import pytest

import fastscore


def test_zero_score_is_one_half():
    assert fastscore.score([0.0, 0.0], [1.0, 2.0], 0.0) == 0.5


def test_matches_python():
    x, w, b = [1.0, 2.0, 3.0], [0.5, -0.25, 0.1], 0.2
    z = sum(a * c for a, c in zip(x, w)) + b
    assert math.isclose(fastscore.score(x, w, b), 1 / (1 + math.exp(-z)))


def test_length_mismatch():
    with pytest.raises(ValueError):
        fastscore.score([1.0], [1.0, 2.0], 0.0)
