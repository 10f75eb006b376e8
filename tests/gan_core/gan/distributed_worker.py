"""Runs data-parallel GAN training on two logical CPUs and prints what it saw as JSON.

Logical devices must be configured before TensorFlow touches a device, which the pytest
process has long done, so ``test_distribute.py`` runs this file in a fresh interpreter.
Usage: ``python distributed_worker.py RUN_DIR``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from gan_core.config import ModelConfig, TrainConfig  # noqa: E402
from gan_core.gan.distribute import DistributeError, resolve_strategy  # noqa: E402
from gan_core.gan.sampling import load_generator  # noqa: E402
from gan_core.gan.train import train_gan  # noqa: E402
from gan_core.gan.trainer import ConditionalGanTrainer  # noqa: E402

MODEL = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)
TRAIN = TrainConfig(
    steps=2, batch_size=16, seed=3, precision="float32", log_every=2, checkpoint_every=2, diffaugment="translation"
)


def _replicas_agree(variables) -> bool:
    for variable in variables:
        copies = [np.asarray(value) for value in getattr(variable, "values", [variable])]
        if not all(np.array_equal(copies[0], copy) for copy in copies[1:]):
            return False
    return True


def main(run_dir: str) -> dict:
    strategy = resolve_strategy(["/cpu:0", "/cpu:1"])
    report: dict = {"replicas": strategy.num_replicas_in_sync}

    trainer = ConditionalGanTrainer(MODEL, TRAIN, "float32", strategy)
    per_replica = strategy.run(lambda: trainer._scaled(trainer.generator_optimizer, tf.constant(3.0)))
    report["scaled_loss_summed_over_replicas"] = float(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, None))

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    labels = np.arange(64) % 10
    first = train_gan(images, labels, MODEL, TRAIN, run_dir, strategy=strategy)
    report["first_losses"] = [first.history[-1].discriminator_loss, first.history[-1].generator_loss]
    resumed = train_gan(images, labels, MODEL, TRAIN.model_copy(update={"steps": 4}), run_dir, strategy=strategy)
    report["resumed_from_step"] = resumed.resumed_from_step
    report["logged_steps"] = [row.step for row in resumed.history]

    # A trainer restored from the run's checkpoint shows the mirrored state after training.
    restored = ConditionalGanTrainer(MODEL, TRAIN, "float32", strategy)
    manager = tf.train.CheckpointManager(restored.checkpoint(), os.path.join(run_dir, "checkpoints"), max_to_keep=3)
    restored.checkpoint().restore(manager.latest_checkpoint).assert_existing_objects_matched()
    report["step"] = int(restored.step.numpy())
    report["replicas_agree"] = {
        "generator": _replicas_agree(restored.generator.weights),
        "discriminator": _replicas_agree(restored.discriminator.weights),
        "ema_generator": _replicas_agree(restored.ema_generator.weights),
        "optimizers": _replicas_agree(
            restored.generator_optimizer.variables + restored.discriminator_optimizer.variables
        ),
    }
    # Training really happened on both replicas' copies: weights moved from the initial ones.
    keras.utils.set_random_seed(TRAIN.seed)
    initial = ConditionalGanTrainer(MODEL, TRAIN, "float32", strategy)
    report["generator_changed"] = not all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(initial.generator.get_weights(), restored.generator.get_weights())
    )
    samples, sample_labels = load_generator(resumed.generator_dir).generate_per_class(2, seed=0)
    report["samples"] = [list(samples.shape), str(samples.dtype), sample_labels.tolist()]

    try:
        ConditionalGanTrainer(MODEL, TRAIN.model_copy(update={"batch_size": 15}), "float32", strategy)
        report["odd_batch_error"] = None
    except DistributeError as error:
        report["odd_batch_error"] = str(error)
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
