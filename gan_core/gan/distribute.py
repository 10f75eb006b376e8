"""Choosing the tf.distribute strategy: data-parallel over every GPU when there are several.

With two or more GPUs, training is synchronous data parallelism (``MirroredStrategy``): each
replica takes ``batch_size / replicas`` of every global batch, gradients are summed across
replicas, and every variable (weights, optimizer slots, EMA copy, counters) stays mirrored.
With one device it is TensorFlow's default strategy, and the training step runs exactly as
without ``tf.distribute``.
"""

from __future__ import annotations

import logging

import tensorflow as tf

logger = logging.getLogger(__name__)


class DistributeError(ValueError):
    """A batch or device setup that data-parallel training cannot use."""


def resolve_strategy(devices: list[str] | None = None) -> tf.distribute.Strategy:
    """The strategy to train with.

    Args:
        devices: Device names to mirror over (e.g. ``["/cpu:0", "/cpu:1"]`` for logical CPUs in
            tests); None uses every visible GPU when there are two or more.

    Returns:
        ``MirroredStrategy`` over several devices, else the default (single-device) strategy.
    """
    if devices is None:
        devices = [device.name for device in tf.config.list_logical_devices("GPU")]
    if len(devices) >= 2:
        strategy = tf.distribute.MirroredStrategy(devices)
        logger.info("data-parallel training on %d replicas: %s", strategy.num_replicas_in_sync, ", ".join(devices))
        return strategy
    return tf.distribute.get_strategy()


def check_global_batch(batch_size: int, strategy: tf.distribute.Strategy) -> None:
    """Every replica must get an equal, non-empty share of each global batch.

    Raises:
        DistributeError: ``batch_size`` is not a multiple of the number of replicas.
    """
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise DistributeError(
            f"batch_size {batch_size} does not split evenly over {replicas} replicas: use a multiple of {replicas}"
        )
