import numpy as np
import pytest

from gan_core.quality.metrics.neighbors import count_within, kth_neighbor_distances, nearest_neighbors, pairwise_distances


def brute_force(queries, references):
    return np.linalg.norm(queries[:, None, :].astype(np.float64) - references[None, :, :], axis=2)


def test_nearest_neighbors_matches_brute_force_across_chunk_borders():
    rng = np.random.default_rng(0)
    queries = rng.random((37, 20)).astype(np.float32)
    references = rng.random((53, 20)).astype(np.float32)
    distances, indices = nearest_neighbors(queries, references, query_chunk=8, reference_chunk=7)
    full = brute_force(queries, references)
    np.testing.assert_array_equal(indices, np.argmin(full, axis=1))
    np.testing.assert_allclose(distances, full.min(axis=1), rtol=1e-6)


def test_exact_copy_has_distance_exactly_zero():
    # The |q|^2 + |r|^2 - 2qr expansion alone leaves ~1e-3 on 784-d pixel rows; the refinement must not.
    rng = np.random.default_rng(1)
    references = rng.random((50, 784)).astype(np.float32)
    distances, indices = nearest_neighbors(references[[3, 17, 49]], references)
    np.testing.assert_array_equal(indices, [3, 17, 49])
    np.testing.assert_array_equal(distances, 0.0)


def test_kth_neighbor_excludes_the_point_itself():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(kth_neighbor_distances(points, 1), [1, 1, 2, 4])
    np.testing.assert_allclose(kth_neighbor_distances(points, 2), [3, 2, 3, 6])


def test_count_within_uses_each_centers_own_radius():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    radii = np.array([1.0, 5.0])
    queries = np.array([[0.5, 0.0], [2.0, 0.0], [6.0, 0.0], [5.5, 0.0]])
    np.testing.assert_array_equal(count_within(queries, centers, radii), [1, 0, 1, 1])


def test_pairwise_distances_small():
    np.testing.assert_allclose(pairwise_distances([[0, 0], [3, 4]], [[0, 0]]), [[0], [5]])


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((2, 3, 4))])
def test_rejects_non_2d(bad):
    with pytest.raises(ValueError, match="2-D"):
        nearest_neighbors(bad, np.zeros((3, 5)))


def test_rejects_width_mismatch_and_empty_references():
    with pytest.raises(ValueError, match="features"):
        nearest_neighbors(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="empty"):
        nearest_neighbors(np.zeros((2, 3)), np.zeros((0, 3)))


def test_kth_neighbor_needs_enough_points():
    with pytest.raises(ValueError, match="more than k=3"):
        kth_neighbor_distances(np.zeros((3, 2)), 3)
