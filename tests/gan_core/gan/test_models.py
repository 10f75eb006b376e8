import numpy as np
import pytest
import tensorflow as tf

from gan_core.config import ModelConfig
from gan_core.gan.models import ConditionalBatchNorm, build_discriminator, build_generator, resolution_plan

TINY = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)


def test_generator_maps_noise_and_label_to_bounded_float32_images():
    generator = build_generator(TINY)
    images = generator([tf.random.normal([4, 8]), tf.constant([0, 1, 2, 3])], training=False)
    assert images.shape == (4, 28, 28, 1)
    assert images.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0


@pytest.mark.parametrize("arch", ["concat", "cbn", "resnet"])
def test_generator_output_depends_on_the_label(arch):
    generator = build_generator(TINY.model_copy(update={"generator_arch": arch}))
    rng = np.random.default_rng(0)
    # Conditional BatchNorm starts as plain BatchNorm (gain 1, bias 0 for every class), as in
    # BigGAN; give the per-class rows distinct values so the label must matter.
    for layer in generator.layers:
        if isinstance(layer, ConditionalBatchNorm):
            for embedding in (layer.gain, layer.bias):
                embedding.set_weights([rng.normal(size=embedding.get_weights()[0].shape)])
    noise = tf.random.normal([1, 8], seed=1)
    zero = generator([noise, tf.constant([0])], training=False)
    seven = generator([noise, tf.constant([7])], training=False)
    assert not np.allclose(zero.numpy(), seven.numpy())


def test_untrained_conditional_batchnorm_is_plain_batchnorm():
    generator = build_generator(TINY.model_copy(update={"generator_arch": "cbn"}))
    noise = tf.random.normal([1, 8], seed=1)
    zero = generator([noise, tf.constant([0])], training=False)
    seven = generator([noise, tf.constant([7])], training=False)
    np.testing.assert_allclose(zero.numpy(), seven.numpy())


@pytest.mark.parametrize("spectral_norm", [True, False])
def test_discriminator_logit_is_float32_and_label_conditioned(spectral_norm):
    config = TINY.model_copy(update={"spectral_norm": spectral_norm})
    discriminator = build_discriminator(config)
    # Give the projection embedding distinct rows so the label must move the logit.
    embedding = discriminator.get_layer("class_projection")
    embedding.set_weights([np.random.default_rng(0).normal(size=embedding.get_weights()[0].shape)])
    images = tf.random.uniform([2, 28, 28, 1], -1, 1, seed=2)
    logits_a = discriminator([images, tf.constant([1, 1])], training=False)
    logits_b = discriminator([images, tf.constant([2, 2])], training=False)
    assert logits_a.shape == (2, 1) and logits_a.dtype == tf.float32
    assert not np.allclose(logits_a.numpy(), logits_b.numpy())


@pytest.mark.parametrize("arch", ["concat", "cbn", "resnet"])
@pytest.mark.parametrize(("side", "channels", "stages"), [(16, 1, 2), (28, 1, 2), (30, 3, 3), (32, 3, 3), (64, 3, 4)])
def test_models_are_built_for_the_data_geometry(arch, side, channels, stages):
    config = TINY.for_data(5, (side, side, channels)).model_copy(update={"generator_arch": arch})
    assert resolution_plan(side)[1] == stages and resolution_plan(side)[0] * 2**stages >= side
    images = build_generator(config)([tf.random.normal([2, 8]), tf.constant([0, 4])], training=False)
    assert images.shape == (2, side, side, channels)
    discriminator = build_discriminator(config)
    assert discriminator([images, tf.constant([0, 4])], training=False).shape == (2, 1)
    # One stride-2 convolution per generator stage: D sees the resolution G builds.
    convs = [getattr(layer, "layer", layer) for layer in discriminator.layers]
    assert sum(getattr(conv, "strides", None) == (2, 2) for conv in convs) == stages


def test_the_mnist_geometry_keeps_its_seven_to_twenty_eight_stack():
    generator = build_generator(TINY)
    reshaped = [layer for layer in generator.layers if isinstance(layer, tf.keras.layers.Reshape)]
    assert [tuple(layer.output.shape[1:3]) for layer in reshaped] == [(7, 7)]
    assert resolution_plan(28) == (7, 2)


def test_geometry_outside_the_supported_range_is_refused():
    for bad in ({"image_size": 12}, {"image_size": 65}, {"channels": 2}):
        with pytest.raises(ValueError):
            ModelConfig(**bad)
    with pytest.raises(ValueError, match="square"):
        TINY.for_data(10, (32, 28, 1))
