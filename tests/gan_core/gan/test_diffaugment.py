import numpy as np
import pytest
import tensorflow as tf

from gan_core.gan.diffaugment import diff_augment, parse_policy


def _dot_image():
    image = -np.ones((1, 28, 28, 1), np.float32)
    image[0, 14, 14, 0] = 1.0
    return tf.constant(image)


def test_empty_policy_is_identity():
    images = tf.random.uniform([3, 28, 28, 1], -1, 1)
    out = diff_augment(images, (), tf.random.Generator.from_seed(0))
    np.testing.assert_array_equal(out.numpy(), images.numpy())


def test_translation_moves_content_by_at_most_the_ratio():
    rng = tf.random.Generator.from_seed(3)
    moved = [np.argwhere(diff_augment(_dot_image(), ("translation",), rng).numpy()[0, ..., 0] > 0) for _ in range(20)]
    shifts = {tuple(found[0] - 14) for found in moved if len(found)}
    assert len(shifts) > 1  # it really moves
    assert all(abs(dy) <= 4 and abs(dx) <= 4 for dy, dx in shifts)


def test_cutout_blanks_a_square_to_background():
    images = tf.ones([4, 28, 28, 1])
    out = diff_augment(images, ("cutout",), tf.random.Generator.from_seed(0)).numpy()
    blanked = (out == -1.0).reshape(4, -1).sum(axis=1)
    assert np.all(blanked == 14 * 14)


def test_gradients_flow_through_every_policy():
    images = tf.Variable(tf.random.uniform([2, 28, 28, 1], -1, 1))
    with tf.GradientTape() as tape:
        out = diff_augment(images, parse_policy("color,translation,cutout"), tf.random.Generator.from_seed(1))
        loss = tf.reduce_sum(out)
    gradient = tape.gradient(loss, images)
    assert gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match="unknown DiffAugment"):
        parse_policy("translation,rotate")


def test_the_config_checks_the_policies_this_module_implements():
    from gan_core.config import DIFFAUGMENT_POLICIES
    from gan_core.gan.diffaugment import _POLICIES

    assert sorted(_POLICIES) == sorted(DIFFAUGMENT_POLICIES)
    assert parse_policy("cutout,,color") == ("cutout", "color")


def test_auto_turns_translation_on_for_small_sets_and_off_for_large_ones():
    from gan_core.config import DIFFAUGMENT_AUTO_MAX_IMAGES, TrainConfig

    auto = TrainConfig()
    assert auto.diffaugment == "auto"
    assert auto.for_training_set(100).diffaugment == "translation"
    assert auto.for_training_set(DIFFAUGMENT_AUTO_MAX_IMAGES - 1).diffaugment == "translation"
    assert auto.for_training_set(DIFFAUGMENT_AUTO_MAX_IMAGES).diffaugment == ""
    assert auto.for_training_set(8000).steps == auto.steps  # only the policy changes
    explicit = TrainConfig(diffaugment="translation,cutout")
    assert explicit.for_training_set(60000) is explicit  # an explicit policy is kept whatever the size


def test_auto_must_be_resolved_before_it_reaches_the_trainer():
    with pytest.raises(ValueError, match="for_training_set"):
        parse_policy("auto")
