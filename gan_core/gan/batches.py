"""The training input: endless shuffled batches that a resumed run can rebuild exactly."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def make_training_batches(
    images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int, start_step: int = 0
) -> tf.data.Dataset:
    """Endless (image (B, H, W, C) in [-1, 1], label) batches, reshuffled every pass, starting at ``start_step``.

    Pass ``e`` is shuffled with seed ``seed + e``, so a run resumed at any step sees the batches
    an uninterrupted run would have seen.
    """
    per_pass = len(images) // batch_size
    first_pass, offset = divmod(start_step, per_pass)
    all_images = tf.constant(images)
    all_labels = tf.constant(labels.astype(np.int32))

    def one_pass(index: tf.Tensor) -> tf.data.Dataset:
        # A stateless shuffle keyed on (seed, pass): no hidden RNG state to checkpoint.
        order = tf.random.experimental.stateless_shuffle(
            tf.range(len(images), dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), index])
        )
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order[: per_pass * batch_size], [per_pass, batch_size]))

    def gather(rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        pixels = tf.cast(tf.gather(all_images, rows), tf.float32)
        return (pixels - 127.5) / 127.5, tf.gather(all_labels, rows)

    dataset = tf.data.Dataset.range(first_pass, 2**62).flat_map(one_pass).skip(offset)
    return dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
