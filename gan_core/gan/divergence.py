"""Divergence: detecting non-finite training state and retrying with lower learning rates.

After a divergence the run rolls back to its last good checkpoint and retries once with both
learning rates multiplied by ``DIVERGENCE_LR_FACTOR``; the factor is recorded in the run
directory so a resumed run keeps it.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gan_core.config import TrainConfig
from gan_core.gan.trainer import ConditionalGanTrainer

DIVERGENCE_LR_FACTOR = 0.1
DIVERGENCE_FILE = "divergence.json"


def lowered(config: TrainConfig) -> TrainConfig:
    return config.model_copy(
        update={
            "generator_lr": config.generator_lr * DIVERGENCE_LR_FACTOR,
            "discriminator_lr": config.discriminator_lr * DIVERGENCE_LR_FACTOR,
        }
    )


def set_learning_rates(trainer: ConditionalGanTrainer, config: TrainConfig) -> None:
    pairs = (
        (trainer.generator_optimizer, config.generator_lr),
        (trainer.discriminator_optimizer, config.discriminator_lr),
    )
    for optimizer, rate in pairs:
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        if isinstance(inner.learning_rate, keras.Variable):  # a schedule is rebuilt from the config
            inner.learning_rate.assign(rate)


def all_finite(losses, trainer: ConditionalGanTrainer) -> bool:
    """Whether the interval's losses and every weight of G, D and the EMA G are finite."""
    if not np.all(np.isfinite(np.array(losses, dtype=np.float64))):
        return False
    models = (trainer.generator, trainer.discriminator, trainer.ema_generator)
    checks = [
        tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(variable)))
        for model in models
        for variable in model.weights
        if variable.dtype in ("float16", "bfloat16", "float32", "float64")
    ]
    # One read back to the host for every weight, not one per variable.
    return bool(tf.reduce_all(tf.stack(checks)))


def poison(trainer: ConditionalGanTrainer) -> None:
    """Fault injection (``train.step=nan``): G's first weight becomes NaN, as a blow-up would."""
    variable = trainer.generator.trainable_variables[0]
    variable.assign(tf.fill(variable.shape, float("nan")))
