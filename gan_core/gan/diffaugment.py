"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for grayscale or RGB images in [-1, 1].

The same random transform family is applied to real and fake images in both the D and the G
step, so D cannot memorise the few real images and G still gets gradients through the
augmentation. Randomness comes from a ``tf.random.Generator`` so runs are reproducible and
checkpoints resume the stream.
"""

from __future__ import annotations

import tensorflow as tf

from gan_core.config import check_diffaugment

_BACKGROUND = -1.0  # black in [-1, 1]


def _color(images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
    # Brightness, saturation (RGB only: a grayscale image has none), contrast, as in the paper.
    batch = tf.shape(images)[0]
    brightness = rng.uniform([batch, 1, 1, 1], -0.25, 0.25)
    images = images + brightness
    if images.shape[-1] == 3:
        gray = tf.reduce_mean(images, axis=3, keepdims=True)
        images = (images - gray) * rng.uniform([batch, 1, 1, 1], 0.0, 2.0) + gray
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = rng.uniform([batch, 1, 1, 1], 0.5, 1.5)
    return (images - mean) * contrast + mean


def _translation(images: tf.Tensor, rng: tf.random.Generator, ratio: float = 0.125) -> tf.Tensor:
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    max_shift = int(images.shape[1] * ratio + 0.5)
    shift_y = rng.uniform([batch, 1, 1], -max_shift, max_shift + 1, dtype=tf.int32)
    shift_x = rng.uniform([batch, 1, 1], -max_shift, max_shift + 1, dtype=tf.int32)
    rows = tf.range(height)[None, :, None] + shift_y
    cols = tf.range(width)[None, None, :] + shift_x
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    flat_index = tf.clip_by_value(rows, 0, height - 1) * width + tf.clip_by_value(cols, 0, width - 1)
    flat_images = tf.reshape(images, [batch, height * width, -1])
    gathered = tf.gather(flat_images, tf.reshape(flat_index, [batch, -1]), batch_dims=1)
    gathered = tf.reshape(gathered, tf.shape(images))
    return tf.where(inside[..., None], gathered, tf.cast(_BACKGROUND, images.dtype))


def _cutout(images: tf.Tensor, rng: tf.random.Generator, ratio: float = 0.5) -> tf.Tensor:
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    size = int(images.shape[1] * ratio + 0.5)
    top = rng.uniform([batch, 1, 1], 0, height - size + 1, dtype=tf.int32)
    left = rng.uniform([batch, 1, 1], 0, width - size + 1, dtype=tf.int32)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    masked = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return tf.where(masked[..., None], tf.cast(_BACKGROUND, images.dtype), images)


_POLICIES = {"color": _color, "translation": _translation, "cutout": _cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """Splits a comma-separated policy string, rejecting unknown names (:func:`gan_core.config.check_diffaugment`)."""
    if policy == "auto":
        raise ValueError(
            "DiffAugment 'auto' depends on the training set: resolve it with TrainConfig.for_training_set(n)"
        )
    check_diffaugment(policy)
    return tuple(name for name in policy.split(",") if name)


def diff_augment(images: tf.Tensor, policy: tuple[str, ...], rng: tf.random.Generator) -> tf.Tensor:
    """Applies each named augmentation in order; an empty policy returns the images unchanged."""
    for name in policy:
        images = _POLICIES[name](images, rng)
    return images
