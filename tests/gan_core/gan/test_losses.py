import numpy as np
import pytest
import tensorflow as tf

from gan_core.gan.losses import (
    hinge_discriminator_loss,
    hinge_generator_loss,
    loss_pair,
    non_saturating_discriminator_loss,
    non_saturating_generator_loss,
)


def test_hinge_losses_match_their_definition():
    real = tf.constant([[2.0], [0.5]])
    fake = tf.constant([[-2.0], [0.0]])
    # relu(1 - real) = [0, 0.5], relu(1 + fake) = [0, 1]
    assert float(hinge_discriminator_loss(real, fake)) == pytest.approx(0.25 + 0.5)
    assert float(hinge_generator_loss(fake)) == pytest.approx(1.0)


def test_non_saturating_losses_are_cross_entropies():
    logits = tf.constant([[0.0]])
    assert float(non_saturating_generator_loss(logits)) == pytest.approx(np.log(2.0))
    assert float(non_saturating_discriminator_loss(logits, logits)) == pytest.approx(2 * np.log(2.0))


def test_a_perfect_discriminator_has_zero_hinge_loss():
    assert float(hinge_discriminator_loss(tf.constant([[3.0]]), tf.constant([[-3.0]]))) == 0.0


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="hinge"):
        loss_pair("wasserstein")
