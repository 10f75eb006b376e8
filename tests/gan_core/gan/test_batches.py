import numpy as np
import tensorflow as tf

from gan_core.gan.batches import make_training_batches


def test_training_batches_scale_to_minus_one_one_and_resume_mid_pass(digits):
    batches = make_training_batches(*digits, batch_size=24, seed=0)
    first_six = [labels.numpy() for _, labels in batches.take(6)]
    images, labels = next(iter(batches))
    assert images.shape == (24, 28, 28, 1) and images.dtype == tf.float32
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
    assert labels.dtype == tf.int32
    # 64 images at batch 24: 2 batches per pass, the remainder dropped; each pass reshuffles.
    assert not np.array_equal(
        np.sort(np.concatenate(first_six[:2])), np.sort(np.concatenate(first_six[2:4]))
    ) or not np.array_equal(first_six[0], first_six[2])
    resumed = [
        labels.numpy() for _, labels in make_training_batches(*digits, batch_size=24, seed=0, start_step=3).take(3)
    ]
    for expected, got in zip(first_six[3:], resumed):
        np.testing.assert_array_equal(expected, got)
