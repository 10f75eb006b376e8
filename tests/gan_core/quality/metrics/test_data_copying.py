import numpy as np
import pytest

from gan_core.quality.metrics.data_copying import (
    choose_num_cells,
    data_copying_statistic,
    kmeans,
    mann_whitney_z,
)
from gan_core.quality.metrics.neighbors import nearest_neighbors


def test_mann_whitney_matches_hand_count():
    generated = np.array([1.0, 2.0, 5.0])
    held_out = np.array([3.0, 4.0])
    # Pairs with generated > held_out: only 5 > 3 and 5 > 4, so U = 2.
    m, n, u = 3, 2, 2.0
    expected = (u - m * n / 2 + 0.5) / np.sqrt(m * n * (m + n + 1) / 12)
    assert mann_whitney_z(generated, held_out) == pytest.approx(expected)


def test_mann_whitney_counts_ties_as_half():
    # All values tie: U = m*n/2, so z is only the continuity correction.
    z = mann_whitney_z(np.ones(4), np.ones(6))
    assert z == pytest.approx(0.5 / np.sqrt(4 * 6 * 11 / 12))


def test_kmeans_finds_separated_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    points = np.concatenate([c + rng.normal(scale=0.3, size=(100, 2)) for c in centers])
    found = kmeans(points, 3, seed=0)
    distances, _ = nearest_neighbors(centers, found)
    assert np.all(distances < 0.2)


def test_kmeans_rejects_more_clusters_than_points():
    with pytest.raises(ValueError, match="k-means"):
        kmeans(np.zeros((2, 3)), 5)


def _ct(train, held_out, generated, cells=4, seed=0):
    centroids = kmeans(train, cells, seed=seed)

    def assign(points):
        return nearest_neighbors(points, centroids)[1]

    return data_copying_statistic(train, assign(train), held_out, assign(held_out), generated, assign(generated), cells)


@pytest.fixture(scope="module")
def gaussians():
    rng = np.random.default_rng(0)
    return rng.normal(size=(2000, 4)), rng.normal(size=(500, 4)), rng.normal(size=(500, 4))


def test_copies_of_train_are_strongly_negative(gaussians):
    train, held_out, _ = gaussians
    statistic, used = _ct(train, held_out, train[:500].copy())
    assert used >= 1
    assert statistic < -10


def test_fresh_samples_are_near_zero(gaussians):
    train, held_out, fresh = gaussians
    statistic, _ = _ct(train, held_out, fresh)
    assert abs(statistic) < 3


def test_far_samples_are_positive(gaussians):
    train, held_out, fresh = gaussians
    statistic, _ = _ct(train, held_out, fresh * 2.0)
    assert statistic > 3


def test_no_qualifying_cell_gives_nan(gaussians):
    train, held_out, fresh = gaussians
    # 10 generated samples can never reach tau = 20 / m in any cell.
    statistic, used = _ct(train, held_out, fresh[:10])
    assert used == 0 and np.isnan(statistic)


def test_choose_num_cells_keeps_cells_populated():
    assert choose_num_cells(5000, 10_000) == 50
    assert choose_num_cells(400, 2000) == 10
    assert choose_num_cells(10, 2000) == 1


def test_kmeans_is_seeded():
    points = np.random.default_rng(1).normal(size=(400, 8))
    np.testing.assert_array_equal(kmeans(points, 6, seed=3), kmeans(points, 6, seed=3))
