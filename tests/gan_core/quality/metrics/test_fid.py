import numpy as np
import pytest

from gan_core.quality.metrics.fid import _sqrt_psd, feature_statistics, frechet_distance, frechet_distance_from_statistics


def test_identical_sets_have_zero_distance():
    features = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_known_answer_for_gaussians_with_diagonal_covariances():
    # For diagonal covariances the trace term is sum (sqrt(a_i) - sqrt(b_i))^2.
    mean_a, mean_b = np.array([0.0, 1.0]), np.array([3.0, 1.0])
    cov_a, cov_b = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    expected = 9.0 + (1 - 3) ** 2 + (2 - 1) ** 2
    assert frechet_distance_from_statistics(mean_a, cov_a, mean_b, cov_b) == pytest.approx(expected)


def test_non_commuting_covariances_match_the_definition():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    b = rng.normal(size=(4, 4))
    cov_a, cov_b = a @ a.T, b @ b.T
    # Tr((A B)^(1/2)) equals the sum of square roots of the eigenvalues of A B (real, >= 0).
    expected_trace = np.sum(np.sqrt(np.clip(np.linalg.eigvals(cov_a @ cov_b).real, 0, None)))
    expected = np.trace(cov_a) + np.trace(cov_b) - 2 * expected_trace
    got = frechet_distance_from_statistics(np.zeros(4), cov_a, np.zeros(4), cov_b)
    assert got == pytest.approx(expected, rel=1e-8)


def test_shifted_set_is_far_and_grows_with_shift():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(2000, 8))
    other = rng.normal(size=(2000, 8))
    near = frechet_distance(base, other)
    far = frechet_distance(base, other + 3.0)
    assert near < 0.1
    assert far == pytest.approx(8 * 9.0, rel=0.05)


def test_sqrt_psd_squares_back():
    a = np.random.default_rng(3).normal(size=(5, 5))
    psd = a @ a.T
    root = _sqrt_psd(psd)
    np.testing.assert_allclose(root @ root, psd, atol=1e-9)


def test_statistics_reject_too_few_rows():
    with pytest.raises(ValueError, match="n >= 2"):
        feature_statistics(np.zeros((1, 3)))
