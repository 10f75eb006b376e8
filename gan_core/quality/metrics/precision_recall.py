"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

All four work on judge features with k-nearest-neighbour balls. Precision: share of synthetic
samples inside some real sample's ball (realism). Recall: share of real samples inside some
synthetic ball (diversity). Density counts how many real balls hold each sample (robust to
outliers, ~1 for matching distributions); coverage is the share of real samples with a synthetic
sample inside their own ball.

The real side is the real *test* split (never trained on, so a memorizing generator gets no
bonus). Both sides are subsampled to the same n, min(n_synthetic, n_test), with the context's
seed, because these estimators depend on sample size.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from gan_core.quality.metrics import MetricContext, register
from gan_core.quality.metrics.neighbors import count_within, kth_neighbor_distances, nearest_neighbors

logger = logging.getLogger(__name__)

PR_K = 3
DC_K = 5


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = PR_K) -> tuple[float, float]:
    """Returns (precision, recall) with k-NN manifolds (Kynkäänniemi et al. 2019)."""
    real_radii = kth_neighbor_distances(real_features, k)
    fake_radii = kth_neighbor_distances(fake_features, k)
    precision = float(np.mean(count_within(fake_features, real_features, real_radii) > 0))
    recall = float(np.mean(count_within(real_features, fake_features, fake_radii) > 0))
    return precision, recall


def density_coverage(real_features: np.ndarray, fake_features: np.ndarray, k: int = DC_K) -> tuple[float, float]:
    """Returns (density, coverage) with real k-NN balls (Naeem et al. 2020)."""
    real_radii = kth_neighbor_distances(real_features, k)
    density = float(np.sum(count_within(fake_features, real_features, real_radii)) / (k * len(fake_features)))
    nearest_fake, _ = nearest_neighbors(real_features, fake_features)
    coverage = float(np.mean(nearest_fake <= real_radii))
    return density, coverage


def _equal_n(context: MetricContext, purpose: str) -> tuple[np.ndarray, np.ndarray]:
    count = min(len(context.images("synthetic")), len(context.images("test")))
    real = context.features("test")[context.subsample_indices("test", count, purpose)]
    fake = context.features("synthetic")[context.subsample_indices("synthetic", count, purpose)]
    return real, fake


def _on_equal_n(
    context: MetricContext, purpose: str, k: int, names: tuple[str, str], estimate: Callable
) -> dict[str, float]:
    # Both pairs of estimators need more than k samples per side for a k-th neighbour.
    real, fake = _equal_n(context, purpose)
    if len(real) <= k:
        logger.warning("%s need more than k=%d samples per side, got %d: reporting NaN", "/".join(names), k, len(real))
        return {name: float("nan") for name in names}
    return dict(zip(names, estimate(real, fake, k)))


@register("precision_recall")
def compute_precision_recall(context: MetricContext) -> dict[str, float]:
    """Precision and recall (k=3) of the synthetic set against real test."""
    return _on_equal_n(context, "precision_recall", PR_K, ("precision", "recall"), precision_recall)


@register("density_coverage")
def compute_density_coverage(context: MetricContext) -> dict[str, float]:
    """Density and coverage (k=5) of the synthetic set against real test."""
    return _on_equal_n(context, "density_coverage", DC_K, ("density", "coverage"), density_coverage)
