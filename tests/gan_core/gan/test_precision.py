"""GPU precision paths, checked for correctness on CPU (never timed here)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_core.config import ModelConfig, TrainConfig
from gan_core.gan.precision import PrecisionError, make_optimizer, resolve_precision
from gan_core.gan.trainer import ConditionalGanTrainer

TINY_MODEL = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)


def _batch(size=8):
    images = tf.random.stateless_uniform([size, 28, 28, 1], seed=[1, 2], minval=-1, maxval=1)
    return images, tf.constant(np.arange(size, dtype=np.int32) % 10)


def test_auto_picks_float16_on_gpu_and_float32_on_cpu():
    assert resolve_precision("auto", gpu_available=True) == "mixed_float16"
    assert resolve_precision("auto", gpu_available=False) == "float32"
    assert resolve_precision("mixed_bfloat16", gpu_available=False) == "mixed_bfloat16"


def test_float16_on_cpu_is_refused_with_the_reason():
    with pytest.raises(PrecisionError, match="needs a GPU"):
        resolve_precision("mixed_float16", gpu_available=False)


@pytest.mark.parametrize("policy, compute_dtype", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_mixed_policy_is_applied_to_variables_compute_and_outputs(policy, compute_dtype):
    trainer = ConditionalGanTrainer(TINY_MODEL, TrainConfig(batch_size=8, diffaugment="translation"), policy)
    conv_layers = [
        layer
        for layer in trainer.generator.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
    ]
    assert conv_layers and all(layer.compute_dtype == compute_dtype for layer in conv_layers)
    assert all(v.dtype == "float32" for v in trainer.generator.trainable_variables)
    assert all(v.dtype == "float32" for v in trainer.discriminator.trainable_variables)
    images, labels = _batch()
    noise = tf.random.normal([8, 8])
    assert trainer.generator([noise, labels]).dtype == tf.float32
    assert trainer.discriminator([images, labels]).dtype == tf.float32
    assert trainer.ema_generator.layers[-1].compute_dtype == "float32"


def test_float16_training_uses_dynamic_loss_scaling_and_keeps_gradients_finite():
    trainer = ConditionalGanTrainer(TINY_MODEL, TrainConfig(batch_size=8, diffaugment="translation"), "mixed_float16")
    optimizer = trainer.discriminator_optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(trainer.generator_optimizer, keras.optimizers.LossScaleOptimizer)
    scale = float(optimizer.dynamic_scale)
    assert scale > 1.0  # the loss really is multiplied before backprop
    images, labels = _batch()
    before = [v.numpy().copy() for v in trainer.discriminator.trainable_variables]
    d_loss, g_loss = trainer.train_step(images, labels)
    assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
    changed = [not np.array_equal(b, v.numpy()) for b, v in zip(before, trainer.discriminator.trainable_variables)]
    assert any(changed)  # a finite step was applied, not skipped
    with tf.GradientTape() as tape:
        logits = trainer.discriminator([images, labels], training=True)
        scaled = optimizer.scale_loss(tf.reduce_mean(logits))
    gradients = tape.gradient(scaled, trainer.discriminator.trainable_variables)
    assert all(bool(tf.reduce_all(tf.math.is_finite(tf.cast(g, tf.float32)))) for g in gradients)


def test_loss_scaling_skips_overflowing_steps_and_lowers_the_scale():
    variable = tf.Variable([1.0, 2.0])
    optimizer = make_optimizer(0.1, 0.0, 0.99, "mixed_float16")
    optimizer.build([variable])
    scale_before = float(optimizer.dynamic_scale)
    optimizer.apply_gradients([(tf.constant([np.inf, 1.0]), variable)])
    np.testing.assert_array_equal(variable.numpy(), [1.0, 2.0])  # the non-finite step was skipped
    assert float(optimizer.dynamic_scale) == scale_before / 2
    optimizer.apply_gradients([(tf.constant([1.0, 1.0]), variable)])
    assert not np.array_equal(variable.numpy(), [1.0, 2.0])


def test_bfloat16_needs_no_loss_scaling():
    assert not isinstance(make_optimizer(1e-3, 0.0, 0.99, "mixed_bfloat16"), keras.optimizers.LossScaleOptimizer)
