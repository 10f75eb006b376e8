"""FixMatch's two views of an image, as stateless TensorFlow ops on uint8 (B, H, W, C) batches.

The weak view only shifts by whole pixels (nearest sampling, so no blur): it should keep the
model's prediction, which then serves as the pseudo-label. The strong view distorts much more
(shift, rotation, scale, shear, contrast, a blanked square): the model must still give the
pseudo-label. Both take a stateless seed, so a (seed, step) pair fixes every random draw.
"""

from __future__ import annotations

import math

import tensorflow as tf

# Strong-view magnitudes not worth a config knob: digits tolerate about this much.
STRONG_SCALE = (0.85, 1.15)
STRONG_SHEAR = 0.25
STRONG_CONTRAST = (0.5, 1.5)


def _uniform(seed: tf.Tensor, size: tf.Tensor, low: float, high: float) -> tf.Tensor:
    return tf.random.stateless_uniform([size], seed=seed, minval=low, maxval=high)


def _affine(images: tf.Tensor, seeds: tf.Tensor, shift: float, degrees: float, strong: bool) -> tf.Tensor:
    """Applies a random inverse affine map per image (float32 (B, H, W, C) in and out)."""
    size = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    if strong:
        tx = _uniform(seeds[0], size, -shift, shift)
        ty = _uniform(seeds[1], size, -shift, shift)
        angle = _uniform(seeds[2], size, -degrees, degrees) * (math.pi / 180.0)
        scale = _uniform(seeds[3], size, *STRONG_SCALE)
        shear = _uniform(seeds[4], size, -STRONG_SHEAR, STRONG_SHEAR)
    else:
        # Whole-pixel shifts in [-shift, shift], drawn as integers so nearest sampling is exact.
        limit = int(shift) + 1
        tx = tf.cast(tf.random.stateless_uniform([size], seeds[0], -int(shift), limit, tf.int32), tf.float32)
        ty = tf.cast(tf.random.stateless_uniform([size], seeds[1], -int(shift), limit, tf.int32), tf.float32)
        angle = shear = tf.zeros([size])
        scale = tf.ones([size])
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # The transform maps an output pixel to where it samples the input: centre, rotate, shear, scale, shift.
    a0, a1 = cos, cos * shear - sin
    b0, b1 = sin, sin * shear + cos
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a2 = cx - (a0 * cx + a1 * cy) - tx
    b2 = cy - (b0 * cx + b1 * cy) - ty
    zeros = tf.zeros([size])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=[height, width],
        fill_value=0.0,
        interpolation="BILINEAR" if strong else "NEAREST",
        fill_mode="CONSTANT",
    )


def _to_uint8(images: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)


def weak_view(images: tf.Tensor, seed: tf.Tensor, shift_pixels: int) -> tf.Tensor:
    """Shifts each uint8 image by whole pixels, up to ``shift_pixels`` each way, with a black fill."""
    if shift_pixels == 0:
        return images
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    floats = tf.cast(images, tf.float32)
    return _to_uint8(_affine(floats, seeds, float(shift_pixels), 0.0, strong=False))


def strong_view(
    images: tf.Tensor, seed: tf.Tensor, shift_pixels: int, rotation_degrees: float, cutout_pixels: int
) -> tf.Tensor:
    """Distorts each uint8 image: shift, rotation, scale, shear, contrast, then a blanked square."""
    seeds = tf.random.experimental.stateless_split(seed, num=9)
    size = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    floats = _affine(tf.cast(images, tf.float32), seeds, float(shift_pixels), rotation_degrees, True)
    mean = tf.reduce_mean(floats, axis=[1, 2, 3], keepdims=True)
    contrast = tf.reshape(_uniform(seeds[5], size, *STRONG_CONTRAST), [-1, 1, 1, 1])
    floats = (floats - mean) * contrast + mean
    if cutout_pixels:
        # The square's centre may lie anywhere, so it is sometimes cut by the border (as in DeVries & Taylor).
        centre_y = _uniform(seeds[6], size, 0.0, float(height))
        centre_x = _uniform(seeds[7], size, 0.0, float(width))
        rows = tf.range(height, dtype=tf.float32)[None, :, None] + 0.5
        cols = tf.range(width, dtype=tf.float32)[None, None, :] + 0.5
        half = cutout_pixels / 2.0
        inside = (tf.abs(rows - centre_y[:, None, None]) < half) & (tf.abs(cols - centre_x[:, None, None]) < half)
        floats = tf.where(inside[..., None], 0.0, floats)
    return _to_uint8(floats)
