import numpy as np
import pytest

from gan_core.quality.metrics.precision_recall import density_coverage, precision_recall


@pytest.fixture(scope="module")
def clouds():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 8)), rng.normal(size=(400, 8))


def test_identical_sets_are_perfect(clouds):
    real, _ = clouds
    assert precision_recall(real, real.copy(), 3) == (1.0, 1.0)
    density, coverage = density_coverage(real, real.copy(), 5)
    assert coverage == 1.0
    # Each real ball holds its centre and its k neighbours, all of them fake copies: (k + 1) / k.
    assert density == pytest.approx(6 / 5)


def test_same_distribution_scores_high(clouds):
    real, fake = clouds
    precision, recall = precision_recall(real, fake, 3)
    density, coverage = density_coverage(real, fake, 5)
    assert precision > 0.6 and recall > 0.6
    assert 0.7 < density < 1.3 and coverage > 0.8


def test_shifted_set_scores_near_zero(clouds):
    real, fake = clouds
    precision, recall = precision_recall(real, fake + 10.0, 3)
    density, coverage = density_coverage(real, fake + 10.0, 5)
    assert precision == 0.0 and recall == 0.0
    assert density == 0.0 and coverage == 0.0


def test_mode_collapse_keeps_precision_but_loses_recall(clouds):
    real, _ = clouds
    # Every fake sample sits at (a jittered copy of) one real point: realistic but not diverse.
    fake = real[:1] + np.random.default_rng(1).normal(scale=1e-3, size=(400, 8))
    precision, recall = precision_recall(real, fake, 3)
    assert precision == 1.0
    assert recall < 0.05
