"""Class-conditional generator and discriminator (Keras 3).

Conditioning choice:
- The generator concatenates the noise with a learned label embedding, so every class gets its
  own region of the input space (as in the conditional DCGAN / BigGAN-style embedding input).
- The discriminator is a projection discriminator (Miyato & Koyama, 2018): an unconditional
  logit plus the inner product of a label embedding with the image features. Projection gives
  a much stronger class signal than concatenating one-hot channels, which is what makes the
  samples follow their labels.

Every layer takes the dtype policy explicitly instead of relying on the global Keras policy,
so building a mixed-precision model has no side effects. Output layers are float32.
"""

from __future__ import annotations

import keras
from keras import layers

from gan_core.config import ModelConfig


def build_generator(config: ModelConfig, dtype_policy: str = "float32") -> keras.Model:
    """Builds G: (noise (B, latent_dim), label (B,)) -> image (B, 28, 28, 1) in [-1, 1], float32."""
    width = config.generator_width
    noise = keras.Input(shape=(config.latent_dim,), name="noise")
    label = keras.Input(shape=(), dtype="int32", name="label")
    embedded = layers.Embedding(config.num_classes, config.latent_dim, name="label_embedding", dtype=dtype_policy)(label)
    hidden = layers.Concatenate(dtype=dtype_policy)([noise, embedded])
    hidden = layers.Dense(7 * 7 * 2 * width, use_bias=False, dtype=dtype_policy)(hidden)
    hidden = layers.BatchNormalization(dtype=dtype_policy)(hidden)
    hidden = layers.ReLU(dtype=dtype_policy)(hidden)
    hidden = layers.Reshape((7, 7, 2 * width), dtype=dtype_policy)(hidden)
    for channels in (width, width // 2):  # 7 -> 14 -> 28
        hidden = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False, dtype=dtype_policy)(hidden)
        hidden = layers.BatchNormalization(dtype=dtype_policy)(hidden)
        hidden = layers.ReLU(dtype=dtype_policy)(hidden)
    hidden = layers.Conv2D(config.channels, 3, padding="same", dtype=dtype_policy)(hidden)
    # tanh in float32: fp16/bf16 saturate early and the published pixels come from here.
    image = layers.Activation("tanh", dtype="float32", name="image")(hidden)
    return keras.Model([noise, label], image, name="generator")


def _maybe_spectral(layer: layers.Layer, enabled: bool, dtype_policy: str) -> layers.Layer:
    return layers.SpectralNormalization(layer, dtype=dtype_policy) if enabled else layer


def build_discriminator(config: ModelConfig, dtype_policy: str = "float32") -> keras.Model:
    """Builds D: (image (B, 28, 28, 1) in [-1, 1], label (B,)) -> logit (B, 1), float32."""
    width = config.discriminator_width
    spectral = config.spectral_norm
    image = keras.Input(shape=(config.image_size, config.image_size, config.channels), name="image")
    label = keras.Input(shape=(), dtype="int32", name="label")
    hidden = image
    for channels in (width, 2 * width):  # 28 -> 14 -> 7
        conv = layers.Conv2D(channels, 4, strides=2, padding="same", dtype=dtype_policy)
        hidden = _maybe_spectral(conv, spectral, dtype_policy)(hidden)
        hidden = layers.LeakyReLU(0.2, dtype=dtype_policy)(hidden)
    conv = layers.Conv2D(2 * width, 3, padding="same", dtype=dtype_policy)
    hidden = _maybe_spectral(conv, spectral, dtype_policy)(hidden)
    hidden = layers.LeakyReLU(0.2, dtype=dtype_policy)(hidden)
    # Flatten keeps where strokes are; global pooling threw that away and left D too weak.
    features = layers.Flatten(dtype=dtype_policy)(hidden)
    # The logit and the projection stay float32 so the loss is computed at full precision.
    features = layers.Activation("linear", dtype="float32")(features)
    unconditional = _maybe_spectral(layers.Dense(1, dtype="float32"), spectral, "float32")(features)
    class_embedding = layers.Embedding(
        config.num_classes, 7 * 7 * 2 * width, name="class_projection", dtype="float32"
    )(label)
    projection = layers.Dot(axes=1, dtype="float32")([features, class_embedding])
    logit = layers.Add(name="logit", dtype="float32")([unconditional, projection])
    return keras.Model([image, label], logit, name="discriminator")
