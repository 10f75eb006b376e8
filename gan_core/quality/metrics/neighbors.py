"""Chunked Euclidean nearest-neighbour search on dense arrays, shared by the metrics.

Distances come from ``|q|^2 + |r|^2 - 2 q.r`` matrix products in blocks, so 5k x 60k x 784
fits in a few tens of MB at a time. That expansion loses precision for near-identical rows, so
:func:`nearest_neighbors` recomputes the winning distance exactly: a copy reports 0, not 3e-3.
"""

from __future__ import annotations

import numpy as np

QUERY_CHUNK = 1024
REFERENCE_CHUNK = 8192


def _as_2d(points: np.ndarray, what: str, dtype=np.float32) -> np.ndarray:
    array = np.asarray(points, dtype=dtype)
    if array.ndim != 2:
        raise ValueError(f"{what} must be a 2-D (n, d) array, got shape {array.shape}")
    return array


def _squared_block(queries: np.ndarray, q_sq: np.ndarray, references: np.ndarray, r_sq: np.ndarray) -> np.ndarray:
    block = q_sq[:, None] + r_sq[None, :] - 2.0 * (queries @ references.T)
    return np.maximum(block, 0.0, out=block)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Returns the full (len(a), len(b)) Euclidean distance matrix; for small inputs only."""
    a = _as_2d(a, "a", np.float64)
    b = _as_2d(b, "b", np.float64)
    return np.sqrt(_squared_block(a, np.einsum("ij,ij->i", a, a), b, np.einsum("ij,ij->i", b, b)))


def nearest_neighbors(
    queries: np.ndarray,
    references: np.ndarray,
    query_chunk: int = QUERY_CHUNK,
    reference_chunk: int = REFERENCE_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Finds each query's nearest reference row.

    Returns:
        (distances float64 (n,), indices int64 (n,)). The distance to the chosen neighbour is
        recomputed exactly in float64.

    Raises:
        ValueError: not 2-D, feature widths differ, or ``references`` is empty.
    """
    queries = _as_2d(queries, "queries")
    references = _as_2d(references, "references")
    if queries.shape[1] != references.shape[1]:
        raise ValueError(f"queries have {queries.shape[1]} features but references have {references.shape[1]}")
    if len(references) == 0:
        raise ValueError("references is empty: nearest neighbours need at least one reference row")
    r_sq = np.einsum("ij,ij->i", references, references)
    indices = np.zeros(len(queries), dtype=np.int64)
    for q_start in range(0, len(queries), query_chunk):
        chunk = queries[q_start : q_start + query_chunk]
        q_sq = np.einsum("ij,ij->i", chunk, chunk)
        best = np.full(len(chunk), np.inf, dtype=np.float32)
        best_index = np.zeros(len(chunk), dtype=np.int64)
        for r_start in range(0, len(references), reference_chunk):
            block = _squared_block(chunk, q_sq, references[r_start : r_start + reference_chunk],
                                   r_sq[r_start : r_start + reference_chunk])
            local = np.argmin(block, axis=1)
            local_best = block[np.arange(len(chunk)), local]
            better = local_best < best
            best[better] = local_best[better]
            best_index[better] = local[better] + r_start
        indices[q_start : q_start + query_chunk] = best_index
    diff = queries.astype(np.float64) - references[indices].astype(np.float64)
    return np.sqrt(np.einsum("ij,ij->i", diff, diff)), indices


def kth_neighbor_distances(points: np.ndarray, k: int, chunk: int = QUERY_CHUNK) -> np.ndarray:
    """Returns each row's distance to its k-th nearest *other* row of the same set (float64).

    Raises:
        ValueError: fewer than k + 1 rows, or k < 1.
    """
    points = _as_2d(points, "points", np.float64)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(points) <= k:
        raise ValueError(f"the k-th neighbour needs more than k={k} points, got {len(points)}")
    sq = np.einsum("ij,ij->i", points, points)
    radii = np.zeros(len(points))
    for start in range(0, len(points), chunk):
        block = _squared_block(points[start : start + chunk], sq[start : start + chunk], points, sq)
        # Column k of the sorted row: column 0 is the point itself (distance 0).
        radii[start : start + chunk] = np.partition(block, k, axis=1)[:, k]
    return np.sqrt(radii)


def count_within(queries: np.ndarray, centers: np.ndarray, radii: np.ndarray, chunk: int = QUERY_CHUNK) -> np.ndarray:
    """Returns, per query, how many centers ``j`` satisfy ``|q - c_j| <= radii[j]``."""
    queries = _as_2d(queries, "queries", np.float64)
    centers = _as_2d(centers, "centers", np.float64)
    # The slack keeps "on the boundary" inclusive despite rounding in the expanded distances, so a
    # point's own k-th neighbour counts as inside its ball, as the definition says.
    radii_sq = np.asarray(radii, dtype=np.float64) ** 2 * (1 + 1e-9) + 1e-12
    c_sq = np.einsum("ij,ij->i", centers, centers)
    counts = np.zeros(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        part = queries[start : start + chunk]
        block = _squared_block(part, np.einsum("ij,ij->i", part, part), centers, c_sq)
        counts[start : start + chunk] = np.sum(block <= radii_sq[None, :], axis=1)
    return counts
