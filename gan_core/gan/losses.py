"""Adversarial losses, in TF-GAN's paired naming: ``<kind>_generator_loss`` / ``<kind>_discriminator_loss``.

All take float32 logits and return a float32 scalar.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

LossPair = tuple[Callable[[tf.Tensor], tf.Tensor], Callable[[tf.Tensor, tf.Tensor], tf.Tensor]]


def hinge_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """G maximises D's score on fakes."""
    return -tf.reduce_mean(fake_logits)


def hinge_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """D pushes real scores above +1 and fake scores below -1 (Lim & Ye, 2017)."""
    return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))


def non_saturating_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """-log D(G(z)), which keeps gradients alive when D wins early (Goodfellow et al., 2014)."""
    return tf.reduce_mean(tf.nn.softplus(-fake_logits))


def non_saturating_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy of D on real (label 1) and fake (label 0) logits."""
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))


LOSSES: dict[str, LossPair] = {
    "hinge": (hinge_generator_loss, hinge_discriminator_loss),
    "non_saturating": (non_saturating_generator_loss, non_saturating_discriminator_loss),
}


def loss_pair(kind: str) -> LossPair:
    """Returns (generator_loss, discriminator_loss) for a loss name."""
    if kind not in LOSSES:
        raise ValueError(f"unknown adversarial loss {kind!r}: choose from {sorted(LOSSES)}")
    return LOSSES[kind]


def lecam_penalty(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, average_real: tf.Tensor, average_fake: tf.Tensor
) -> tf.Tensor:
    """LeCam regulariser (Tseng et al. 2021): keeps D's outputs near the moving averages of the
    other side's, which bounds how far D can overfit a small training set."""
    return tf.reduce_mean(tf.square(tf.nn.relu(real_logits - average_fake))) + tf.reduce_mean(
        tf.square(tf.nn.relu(average_real - fake_logits))
    )


def mode_seeking_penalty(images: tf.Tensor, noise: tf.Tensor, epsilon: float = 1e-5) -> tf.Tensor:
    """MSGAN's term (Mao et al. 2019): the inverse of how far apart two halves of a batch that
    share labels but not noise land, per unit of noise distance. Minimising it spreads G's outputs."""
    half = tf.shape(images)[0] // 2
    images = tf.cast(images, tf.float32)
    image_distance = tf.reduce_mean(tf.abs(images[:half] - images[half : 2 * half]))
    noise_distance = tf.reduce_mean(tf.abs(noise[:half] - noise[half : 2 * half]))
    return 1.0 / (image_distance / noise_distance + epsilon)
