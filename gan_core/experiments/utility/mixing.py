"""How an experiment's training rows are combined: real rows repeated whole, real and synthetic mixed."""

from __future__ import annotations

import math

import numpy as np

from gan_core.experiments.utility.config import UtilityError


def repeat_to(images: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Repeats the rows whole until there are at least ``count`` (an epoch covers each row equally)."""
    times = max(1, math.ceil(count / len(images)))
    return np.concatenate([images] * times), np.concatenate([labels] * times)


def mix_real_and_synthetic(
    real_images: np.ndarray,
    real_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    real_share: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Real plus synthetic rows, with real rows repeated whole until they are >= ``real_share``.

    Appending thousands of synthetic rows to 100 real ones would leave the real images a few
    percent of every batch; repeating them keeps each batch (in expectation) at least
    ``real_share`` real, the usual way to mix generated data in.
    """
    if not 0 <= real_share < 1:
        raise UtilityError(f"real_share must be in [0, 1), got {real_share}")
    wanted = math.ceil(real_share / (1 - real_share) * len(synthetic_labels))
    if wanted > len(real_labels):
        real_images, real_labels = repeat_to(real_images, real_labels, wanted)
    return np.concatenate([real_images, synthetic_images]), np.concatenate([real_labels, synthetic_labels])
