"""Class-conditional generator and discriminator (Keras 3).

Conditioning choice:
- Generator ``concat``: the noise is concatenated with a learned label embedding, so every class
  gets its own region of the input space (the conditional DCGAN input).
- Generator ``cbn``: conditional BatchNorm (Dumoulin et al. 2017, as in SNGAN/BigGAN): every
  BatchNorm in G gets a per-class gain and bias, so the label acts at every resolution, not only
  at the input. Upsampling is nearest-neighbour + 3x3 conv, which avoids the checkerboard that
  strided transposed convolutions leave on thin strokes.
- Generator ``resnet``: the ``cbn`` generator with residual up-blocks (SNGAN's layout).
- The discriminator is a projection discriminator (Miyato & Koyama, 2018): an unconditional
  logit plus the inner product of a label embedding with the image features. Projection gives
  a much stronger class signal than concatenating one-hot channels, which is what makes the
  samples follow their labels.

Geometry: G starts from a ``base x base`` map and doubles it ``stages`` times
(:func:`resolution_plan`): two stages for 16-28 px (7 -> 14 -> 28 for MNIST), three for 32-56,
four for 64, halving the channels at each stage; a side that is not ``base * 2**stages`` is
center-cropped from the next larger map. D mirrors it with ``stages`` stride-2 convolutions.

Every layer takes the dtype policy explicitly instead of relying on the global Keras policy,
so building a mixed-precision model has no side effects. Output layers are float32.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from gan_core.config import ModelConfig


class ConditionalBatchNorm(layers.Layer):
    """BatchNorm without its own affine part, followed by a per-class gain and bias.

    Called as ``layer([features, labels])``; the gain starts at 1 and the bias at 0, so an
    untrained layer is plain BatchNorm.
    """

    def __init__(self, num_classes: int, momentum: float = 0.99, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.momentum = momentum

    def build(self, input_shape):
        channels = int(input_shape[0][-1])
        policy = self.dtype_policy
        self.normalize = layers.BatchNormalization(momentum=self.momentum, center=False, scale=False, dtype=policy)
        self.gain = layers.Embedding(self.num_classes, channels, embeddings_initializer="ones", dtype=policy)
        self.bias = layers.Embedding(self.num_classes, channels, embeddings_initializer="zeros", dtype=policy)
        self.normalize.build(input_shape[0])
        self.gain.build(input_shape[1])
        self.bias.build(input_shape[1])

    def call(self, inputs, training=None):
        features, labels = inputs
        normalized = self.normalize(features, training=training)
        # (B, C) -> (B, 1, 1, C) for conv features, unchanged for dense ones.
        shape = [-1] + [1] * (len(features.shape) - 2) + [normalized.shape[-1]]
        gain = keras.ops.reshape(self.gain(labels), shape)
        bias = keras.ops.reshape(self.bias(labels), shape)
        return normalized * gain + bias

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def resolution_plan(side: int) -> tuple[int, int]:
    """(base, stages) for a square side: G starts at ``base`` and doubles ``stages`` times.

    The base stays between 4 and 7 so the first map keeps some layout, and there are at least
    two stages; ``base * 2**stages`` is ``side`` or the smallest such size above it.
    """
    stages = max(2, math.ceil(math.log2(side / 7)))
    return math.ceil(side / 2**stages), stages


def _crop_to(hidden, side: int, dtype_policy: str):
    """Center-crops a (B, S, S, C) map to ``side`` when the plan overshoots it."""
    excess = int(hidden.shape[1]) - side
    if excess == 0:
        return hidden
    before = excess // 2
    return layers.Cropping2D(((before, excess - before), (before, excess - before)), dtype=dtype_policy)(hidden)


def build_generator(config: ModelConfig, dtype_policy: str = "float32") -> keras.Model:
    """Builds G: (noise (B, latent_dim), label (B,)) -> image (B, S, S, C) in [-1, 1], float32."""
    if config.generator_arch == "concat":
        return _build_concat_generator(config, dtype_policy)
    return _build_cbn_generator(config, dtype_policy, residual=config.generator_arch == "resnet")


def _build_cbn_generator(config: ModelConfig, dtype_policy: str, residual: bool) -> keras.Model:
    width = config.generator_width
    noise = keras.Input(shape=(config.latent_dim,), name="noise")
    label = keras.Input(shape=(), dtype="int32", name="label")

    def conv(channels: int, size: int = 3) -> layers.Conv2D:
        return layers.Conv2D(channels, size, padding="same", dtype=dtype_policy)

    base, stages = resolution_plan(config.image_size)
    hidden = layers.Dense(base * base * 2**stages * width, dtype=dtype_policy)(noise)
    hidden = layers.Reshape((base, base, 2**stages * width), dtype=dtype_policy)(hidden)
    for channels in (2 ** (stages - 1 - stage) * width for stage in range(stages)):  # e.g. 7 -> 14 -> 28
        block_input = hidden
        hidden = ConditionalBatchNorm(config.num_classes, dtype=dtype_policy)([hidden, label])
        hidden = layers.ReLU(dtype=dtype_policy)(hidden)
        hidden = layers.UpSampling2D(2, dtype=dtype_policy)(hidden)
        hidden = conv(channels)(hidden)
        if residual:
            hidden = ConditionalBatchNorm(config.num_classes, dtype=dtype_policy)([hidden, label])
            hidden = layers.ReLU(dtype=dtype_policy)(hidden)
            hidden = conv(channels)(hidden)
            shortcut = conv(channels, 1)(layers.UpSampling2D(2, dtype=dtype_policy)(block_input))
            hidden = layers.Add(dtype=dtype_policy)([hidden, shortcut])
    hidden = layers.BatchNormalization(dtype=dtype_policy)(hidden)
    hidden = layers.ReLU(dtype=dtype_policy)(hidden)
    hidden = conv(config.channels)(_crop_to(hidden, config.image_size, dtype_policy))
    image = layers.Activation("tanh", dtype="float32", name="image")(hidden)
    return keras.Model([noise, label], image, name="generator")


def _build_concat_generator(config: ModelConfig, dtype_policy: str) -> keras.Model:
    width = config.generator_width
    noise = keras.Input(shape=(config.latent_dim,), name="noise")
    label = keras.Input(shape=(), dtype="int32", name="label")
    embedded = layers.Embedding(config.num_classes, config.latent_dim, name="label_embedding", dtype=dtype_policy)(label)
    hidden = layers.Concatenate(dtype=dtype_policy)([noise, embedded])
    base, stages = resolution_plan(config.image_size)
    top = 2 ** (stages - 1) * width
    hidden = layers.Dense(base * base * top, use_bias=False, dtype=dtype_policy)(hidden)
    hidden = layers.BatchNormalization(dtype=dtype_policy)(hidden)
    hidden = layers.ReLU(dtype=dtype_policy)(hidden)
    hidden = layers.Reshape((base, base, top), dtype=dtype_policy)(hidden)
    for stage in range(stages):  # e.g. 7 -> 14 -> 28
        channels = max(1, top // 2 ** (stage + 1))
        hidden = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False, dtype=dtype_policy)(hidden)
        hidden = layers.BatchNormalization(dtype=dtype_policy)(hidden)
        hidden = layers.ReLU(dtype=dtype_policy)(hidden)
    hidden = _crop_to(hidden, config.image_size, dtype_policy)
    hidden = layers.Conv2D(config.channels, 3, padding="same", dtype=dtype_policy)(hidden)
    # tanh in float32: fp16/bf16 saturate early and the published pixels come from here.
    image = layers.Activation("tanh", dtype="float32", name="image")(hidden)
    return keras.Model([noise, label], image, name="generator")


def _maybe_spectral(layer: layers.Layer, enabled: bool, dtype_policy: str) -> layers.Layer:
    return layers.SpectralNormalization(layer, dtype=dtype_policy) if enabled else layer


def build_discriminator(config: ModelConfig, dtype_policy: str = "float32") -> keras.Model:
    """Builds D: (image (B, S, S, C) in [-1, 1], label (B,)) -> logit (B, 1), float32."""
    width = config.discriminator_width
    spectral = config.spectral_norm
    image = keras.Input(shape=(config.image_size, config.image_size, config.channels), name="image")
    label = keras.Input(shape=(), dtype="int32", name="label")
    hidden = image
    _, stages = resolution_plan(config.image_size)
    for stage in range(stages):  # e.g. 28 -> 14 -> 7
        conv = layers.Conv2D(2**stage * width, 4, strides=2, padding="same", dtype=dtype_policy)
        hidden = _maybe_spectral(conv, spectral, dtype_policy)(hidden)
        hidden = layers.LeakyReLU(0.2, dtype=dtype_policy)(hidden)
    conv = layers.Conv2D(2 ** (stages - 1) * width, 3, padding="same", dtype=dtype_policy)
    hidden = _maybe_spectral(conv, spectral, dtype_policy)(hidden)
    hidden = layers.LeakyReLU(0.2, dtype=dtype_policy)(hidden)
    # Flatten keeps where strokes are; global pooling threw that away and left D too weak.
    features = layers.Flatten(dtype=dtype_policy)(hidden)
    # The logit and the projection stay float32 so the loss is computed at full precision.
    features = layers.Activation("linear", dtype="float32")(features)
    unconditional = _maybe_spectral(layers.Dense(1, dtype="float32"), spectral, "float32")(features)
    class_embedding = layers.Embedding(
        config.num_classes, int(features.shape[-1]), name="class_projection", dtype="float32"
    )(label)
    projection = layers.Dot(axes=1, dtype="float32")([features, class_embedding])
    logit = layers.Add(name="logit", dtype="float32")([unconditional, projection])
    return keras.Model([image, label], logit, name="discriminator")
