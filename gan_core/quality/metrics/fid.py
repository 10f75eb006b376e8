"""Fréchet distance on judge features, with a real-vs-real floor at equal sample size.

FID is biased upwards at small n, so a raw number means little. ``fid_real_floor`` is the FID
between real train and real test with the train side subsampled to the same n as the synthetic
side (and the synthetic side cut to the train size if it is larger), so ``fid_ratio`` compares
like with like: about 1 for a generator as good as fresh real data.
"""

from __future__ import annotations

import numpy as np

from gan_core.quality.metrics import MetricContext, register


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns the mean (d,) and sample covariance (d, d) of (n, d) features, in float64.

    Raises:
        ValueError: not 2-D or fewer than 2 rows.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need (n, d) features with n >= 2, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix via its eigen-decomposition."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_from_statistics(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """Returns |m_a - m_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)).

    ``Tr((C_a C_b)^(1/2))`` equals ``Tr((S C_b S)^(1/2))`` with ``S = C_a^(1/2)``; the latter is
    symmetric PSD, so eigenvalues stay real and no scipy ``sqrtm`` is needed.
    """
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None))))
    distance = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)
    # Rounding can leave a tiny negative value for identical inputs.
    return max(distance, 0.0)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Returns the Fréchet distance between Gaussians fitted to two (n, d) feature sets."""
    return frechet_distance_from_statistics(*feature_statistics(features_a), *feature_statistics(features_b))


@register("fid")
def compute(context: MetricContext) -> dict[str, float]:
    """FID(synthetic, real test), FID(real train, real test) at equal n, and their ratio."""
    count = min(len(context.images("synthetic")), len(context.images("train")))
    if count < 2 or len(context.images("test")) < 2:
        nan = float("nan")
        return {"fid": nan, "fid_real_floor": nan, "fid_ratio": nan, "fid_num_samples": float(count)}
    synthetic = context.features("synthetic")[context.subsample_indices("synthetic", count, "fid")]
    train = context.features("train")[context.subsample_indices("train", count, "fid")]
    test = context.features("test")
    fid = frechet_distance(synthetic, test)
    floor = frechet_distance(train, test)
    return {
        "fid": fid,
        "fid_real_floor": floor,
        "fid_ratio": fid / floor if floor > 0 else float("inf"),
        "fid_num_samples": float(count),
    }
