"""FixMatch's views: the weak one only shifts by whole pixels, the strong one distorts, both seeded."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gan_core.semisup.augment import strong_view, weak_view


def _digits() -> np.ndarray:
    """Bright blocks well inside a black border, so a shift of up to 2 px loses no pixel."""
    images = np.zeros((16, 28, 28, 1), np.uint8)
    rng = np.random.default_rng(0)
    images[:, 8:20, 10:18] = rng.integers(1, 256, size=(16, 12, 8, 1), dtype=np.uint8)
    return images


def _seed(step: int) -> tf.Tensor:
    return tf.constant([0, step], tf.int64)


def test_weak_view_is_a_whole_pixel_shift_within_the_limit():
    images = _digits()
    weak = weak_view(tf.constant(images), _seed(1), 2).numpy()
    assert weak.dtype == np.uint8 and weak.shape == images.shape
    shifts = set()
    for original, view in zip(images, weak):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(np.roll(original, (dy, dx), axis=(0, 1)), view)
        ]
        assert len(matches) == 1
        shifts.add(matches[0])
    assert len(shifts) > 3  # per-image shifts, not one for the batch
    assert np.array_equal(weak_view(tf.constant(images), _seed(0), 0).numpy(), images)


def test_strong_view_distorts_and_is_fixed_by_its_seed():
    images = tf.constant(_digits())
    first = strong_view(images, _seed(3), 4, 25.0, 10).numpy()
    assert first.dtype == np.uint8 and first.shape == (16, 28, 28, 1)
    assert np.array_equal(first, strong_view(images, _seed(3), 4, 25.0, 10).numpy())
    assert not np.array_equal(first, strong_view(images, _seed(4), 4, 25.0, 10).numpy())
    changed = np.mean(first.astype(int) != images.numpy().astype(int), axis=(1, 2))
    assert np.all(changed > 0.02)
    # Cutout blanks pixels: with it, strictly more black pixels inside the block region on average.
    no_cut = strong_view(images, _seed(3), 0, 0.0, 0).numpy()
    cut = strong_view(images, _seed(3), 0, 0.0, 14).numpy()
    assert (cut == 0).sum() > (no_cut == 0).sum()
