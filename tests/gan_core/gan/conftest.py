"""Fixtures shared by the GAN tests."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def digits():
    """64 random uint8 28x28x1 images with labels cycling through 0-9: enough for tiny training runs."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(64, dtype=np.int64) % 10
    return images, labels
