"""Memorization: how many samples sit closer to a training image than real unseen digits do.

Distances are pixel-space L2 on images scaled to [0, 1] and flattened. The threshold is the 1st
percentile of real-test-to-train nearest-neighbour distances: only 1 % of genuinely new real
digits are that close to a training image, so a sample closer than that is suspicious. A
generator as novel as real data scores about 0.01; one that replays training images scores 1.

The threshold uses at most ``MAX_REFERENCE_QUERIES`` real test images (a seeded subsample): a
1st percentile is stable at that size, and full MNIST's 10k x 60k pixel search would double
the metric's cost.
"""

from __future__ import annotations

import numpy as np

from gan_core.quality.metrics import MetricContext, register
from gan_core.quality.metrics.neighbors import nearest_neighbors

THRESHOLD_PERCENTILE = 1.0
MAX_REFERENCE_QUERIES = 5000


def memorization_rate(sample_distances: np.ndarray, reference_distances: np.ndarray,
                      percentile: float = THRESHOLD_PERCENTILE) -> tuple[float, float]:
    """Returns (share of samples strictly closer than the threshold, the threshold).

    Args:
        sample_distances: Each sample's nearest-train distance.
        reference_distances: Each real held-out image's nearest-train distance.
        percentile: Which percentile of ``reference_distances`` is the threshold.

    Raises:
        ValueError: either array is empty.
    """
    sample_distances = np.asarray(sample_distances, dtype=np.float64)
    reference_distances = np.asarray(reference_distances, dtype=np.float64)
    if sample_distances.size == 0 or reference_distances.size == 0:
        raise ValueError("memorization needs at least one sample distance and one reference distance")
    threshold = float(np.percentile(reference_distances, percentile))
    return float(np.mean(sample_distances < threshold)), threshold


@register("memorization")
def compute(context: MetricContext) -> dict[str, float]:
    """Memorization rate against real train, with the nearest-neighbour distance medians."""
    synthetic = context.train_nn_distances("synthetic")
    rows = context.subsample_indices("test", MAX_REFERENCE_QUERIES, "memorization")
    test = nearest_neighbors(context.pixels("test")[rows], context.pixels("train"))[0]
    rate, threshold = memorization_rate(synthetic, test)
    return {
        "memorization_rate": rate,
        "memorization_threshold": threshold,
        "nn_distance_median": float(np.median(synthetic)),
        "nn_distance_real_median": float(np.median(test)),
    }
