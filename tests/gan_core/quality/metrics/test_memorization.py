import numpy as np
import pytest

from gan_core.quality.metrics.memorization import memorization_rate


def test_rate_counts_samples_strictly_below_the_first_percentile():
    reference = np.arange(1, 101, dtype=float)  # 1st percentile = 1.99
    rate, threshold = memorization_rate(np.array([0.0, 1.0, 1.99, 5.0]), reference)
    assert threshold == pytest.approx(1.99)
    assert rate == pytest.approx(0.5)


def test_copies_score_one_and_fresh_data_about_the_percentile():
    rng = np.random.default_rng(0)
    reference = rng.uniform(3, 8, size=10_000)
    assert memorization_rate(np.zeros(100), reference)[0] == 1.0
    fresh = rng.uniform(3, 8, size=10_000)
    assert memorization_rate(fresh, reference)[0] == pytest.approx(0.01, abs=0.005)


def test_empty_input_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        memorization_rate(np.array([]), np.array([1.0]))
