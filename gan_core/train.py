"""Training the class-conditional GAN: a two-tape ``tf.function`` step, checkpoints and resume.

Typical use::

    result = train_gan(images, labels, ModelConfig(), TrainConfig(epochs=20), run_dir)
    generator = load_generator(result.generator_dir)

A run directory holds ``config.json`` (the resolved configs), ``checkpoints/`` (every epoch,
the last N kept), ``history.jsonl`` (one line per epoch), ``tensorboard/`` and, once training
is complete, ``generator/`` (the exported EMA generator). Calling ``train_gan`` again on the
same directory resumes from the last checkpoint; asking for more epochs extends the run.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from gan_core import imaging
from gan_core.config import ModelConfig, TrainConfig
from gan_core.diffaugment import diff_augment, parse_policy
from gan_core.distribute import check_global_batch, resolve_strategy
from gan_core.fsutil import atomic_write_json
from gan_core.losses import loss_pair
from gan_core.models import build_discriminator, build_generator
from gan_core.precision import make_optimizer, resolve_precision
from gan_core.sampling import GRID_PER_CLASS, export_generator

logger = logging.getLogger(__name__)

# Fields that may change between calls on one run directory: more epochs extend the run.
_EXTENDABLE_FIELDS = {"epochs"}


class TrainingError(RuntimeError):
    """Training cannot start or continue; the message says why and what to do."""


@dataclass(frozen=True)
class EpochStats:
    """What one epoch did."""

    epoch: int
    epochs: int
    steps: int
    discriminator_loss: float
    generator_loss: float
    images_per_second: float
    epoch_seconds: float
    elapsed_seconds: float


@dataclass(frozen=True)
class TrainResult:
    """A finished run: where the generator is, its content hash and the per-epoch history."""

    run_dir: Path
    generator_dir: Path
    generator_hash: str
    dtype_policy: str
    resumed_from_epoch: int
    history: list[EpochStats]


class ConditionalGanTrainer:
    """Owns G, D, the EMA copy of G, both optimizers and the seeded noise stream.

    With a multi-replica ``strategy`` everything is created in its scope (mirrored) and each
    step runs on every replica; ``batch_size`` is the global batch.
    """

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        dtype_policy: str,
        strategy: tf.distribute.Strategy | None = None,
    ):
        self.strategy = strategy or tf.distribute.get_strategy()
        check_global_batch(train_config.batch_size, self.strategy)
        with self.strategy.scope():
            self._build(model_config, train_config, dtype_policy)
        self._step_with_r1 = tf.function(lambda images, labels: self._distributed_step(images, labels, True))
        self._step_plain = tf.function(lambda images, labels: self._distributed_step(images, labels, False))

    @property
    def replicas(self) -> int:
        """Number of replicas each global batch is split over."""
        return self.strategy.num_replicas_in_sync

    def _build(self, model_config: ModelConfig, train_config: TrainConfig, dtype_policy: str) -> None:
        self.model_config = model_config
        self.train_config = train_config
        self.dtype_policy = dtype_policy
        self.generator = build_generator(model_config, dtype_policy)
        self.discriminator = build_discriminator(model_config, dtype_policy)
        # The EMA copy only samples, so it stays float32 whatever the training policy is.
        self.ema_generator = build_generator(model_config, "float32")
        self.ema_generator.set_weights(self.generator.get_weights())
        self.generator_optimizer = make_optimizer(
            train_config.generator_lr, train_config.beta_1, train_config.beta_2, dtype_policy
        )
        self.discriminator_optimizer = make_optimizer(
            train_config.discriminator_lr, train_config.beta_1, train_config.beta_2, dtype_policy
        )
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.rng = tf.random.Generator.from_seed(train_config.seed)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self._generator_loss, self._discriminator_loss = loss_pair(train_config.loss)
        self._augment_policy = parse_policy(train_config.diffaugment)

    def checkpoint(self) -> tf.train.Checkpoint:
        """Everything needed to resume bit-for-bit: weights, optimizer slots, RNG state, counters."""
        return tf.train.Checkpoint(
            generator=self.generator,
            discriminator=self.discriminator,
            ema_generator=self.ema_generator,
            generator_optimizer=self.generator_optimizer,
            discriminator_optimizer=self.discriminator_optimizer,
            rng=self.rng,
            epoch=self.epoch,
            step=self.step,
        )

    def train_step(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Runs one D update and one G update; returns (discriminator_loss, generator_loss)."""
        config = self.train_config
        lazy_r1 = config.r1_gamma > 0 and int(self.step.numpy()) % config.r1_interval == 0
        step = self._step_with_r1 if lazy_r1 else self._step_plain
        return step(images, labels)

    def distribute(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """Splits each global batch of ``dataset`` over the replicas (unchanged on one device)."""
        return dataset if self.replicas == 1 else self.strategy.experimental_distribute_dataset(dataset)

    def _distributed_step(self, images, labels, apply_r1: bool):
        if self.replicas == 1:
            return self._train_step(images, labels, apply_r1)
        losses = self.strategy.run(self._train_step, args=(images, labels, apply_r1))
        return tuple(self.strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None) for loss in losses)

    def _scaled(self, optimizer: keras.optimizers.Optimizer, loss: tf.Tensor) -> tf.Tensor:
        # Replica gradients are summed, so each replica's mean loss counts 1/replicas of the
        # global mean.
        if self.replicas > 1:
            loss = loss / self.replicas
        # LossScaleOptimizer multiplies the loss so fp16 gradients do not underflow;
        # apply_gradients divides it out again and skips non-finite steps.
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer.scale_loss(loss)
        return loss

    def _augment(self, images: tf.Tensor) -> tf.Tensor:
        return diff_augment(images, self._augment_policy, self.rng)

    def _train_step(self, real_images: tf.Tensor, labels: tf.Tensor, apply_r1: bool):
        config = self.train_config
        batch = tf.shape(real_images)[0]
        generator, discriminator = self.generator, self.discriminator

        # 1. Discriminator: real vs fresh fakes, both through the same differentiable augmentation.
        noise = self.rng.normal([batch, self.model_config.latent_dim])
        with tf.GradientTape() as tape:
            fake_images = generator([noise, labels], training=True)
            real_logits = discriminator([self._augment(real_images), labels], training=True)
            fake_logits = discriminator([self._augment(fake_images), labels], training=True)
            discriminator_loss = self._discriminator_loss(real_logits, fake_logits)
            total = discriminator_loss
            if apply_r1:
                total += self._r1_penalty(real_images, labels) * (0.5 * config.r1_gamma * config.r1_interval)
            scaled = self._scaled(self.discriminator_optimizer, total)
        gradients = tape.gradient(scaled, discriminator.trainable_variables)
        self.discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))

        # 2. Generator: new noise, so G never trains on the exact fakes D just saw.
        noise = self.rng.normal([batch, self.model_config.latent_dim])
        with tf.GradientTape() as tape:
            fake_images = generator([noise, labels], training=True)
            fake_logits = discriminator([self._augment(fake_images), labels], training=True)
            generator_loss = self._generator_loss(fake_logits)
            scaled = self._scaled(self.generator_optimizer, generator_loss)
        gradients = tape.gradient(scaled, generator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))

        # 3. Exponential moving average of G's weights, used for sampling.
        self._update_ema()
        self.step.assign_add(1)
        return discriminator_loss, generator_loss

    def _r1_penalty(self, real_images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(real_images)
            logit_sum = tf.reduce_sum(self.discriminator([real_images, labels], training=True))
        gradients = tf.cast(tape.gradient(logit_sum, real_images), tf.float32)
        return tf.reduce_mean(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))

    def _update_ema(self) -> None:
        # Warm-up: early on the average would mostly remember the random init, so the
        # effective decay grows with the step count (as in TF's ExponentialMovingAverage).
        step = tf.cast(self.step, tf.float32)
        decay = tf.minimum(self.train_config.ema_decay, (1.0 + step) / (10.0 + step))
        for ema_weight, weight in zip(self.ema_generator.weights, self.generator.weights):
            value = tf.cast(weight, ema_weight.dtype)
            if weight.trainable and self.train_config.ema_decay > 0:
                ema_weight.assign(decay * ema_weight + (1.0 - decay) * value)
            else:
                ema_weight.assign(value)  # BatchNorm statistics, or EMA disabled


def make_input_pipeline(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """Shuffled, batched, prefetched (image in [-1, 1], label) pairs for one epoch.

    The shuffle seed is passed per epoch, so a resumed run sees the same order it would have seen.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=False)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.map(
        lambda image, label: ((tf.cast(image, tf.float32)[..., None] - 127.5) / 127.5, label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def validate_training_data(images: np.ndarray, labels: np.ndarray, model_config: ModelConfig, batch_size: int) -> None:
    """Checks shapes, dtypes, label range and size before any model is built.

    Raises:
        TrainingError: the message names the problem and the fix.
    """
    size = model_config.image_size
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (size, size):
        raise TrainingError(f"training images must be uint8 (N, {size}, {size}); got {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise TrainingError(f"labels must have shape ({len(images)},); got {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= model_config.num_classes):
        raise TrainingError(
            f"labels must lie in [0, {model_config.num_classes}); got [{labels.min()}, {labels.max()}]"
        )
    if len(images) < batch_size:
        raise TrainingError(
            f"batch_size {batch_size} is larger than the {len(images)} training images: lower batch_size"
        )


def _check_run_dir(run_dir: Path, resolved: dict) -> None:
    config_path = run_dir / "config.json"
    if not config_path.exists():
        atomic_write_json(config_path, resolved)
        return
    previous = json.loads(config_path.read_text())
    fixed = lambda configs: {
        section: {k: v for k, v in values.items() if k not in _EXTENDABLE_FIELDS}
        for section, values in configs.items()
    }
    if fixed(previous) != fixed(resolved):
        raise TrainingError(
            f"{run_dir} holds a run with a different configuration; resume needs the same settings "
            "(only 'epochs' may grow). Use another run directory or delete this one."
        )
    atomic_write_json(config_path, resolved)


def _read_history(path: Path, up_to_epoch: int) -> list[EpochStats]:
    if not path.exists():
        return []
    rows = [EpochStats(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    # A crash between the checkpoint and the history append can leave extra or missing lines;
    # the checkpoint is the truth, so keep one row per epoch up to it.
    by_epoch = {row.epoch: row for row in rows if row.epoch <= up_to_epoch}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def train_gan(
    images: np.ndarray,
    labels: np.ndarray,
    model_config: ModelConfig,
    train_config: TrainConfig,
    run_dir: Path,
    class_names: tuple[str, ...] | None = None,
    on_epoch_end: Callable[[EpochStats], None] | None = None,
    dtype_policy: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> TrainResult:
    """Trains (or resumes) a conditional GAN and exports the EMA generator.

    Args:
        images: uint8 (N, 28, 28) real training images.
        labels: int (N,) class labels.
        model_config: architecture.
        train_config: optimisation settings; ``precision`` is resolved unless ``dtype_policy``
            is given (tests pass one to exercise GPU policies on CPU).
        run_dir: where checkpoints, logs and the exported generator go; reused to resume.
        class_names: written into the generator's config for downstream readers.
        on_epoch_end: called after every epoch, e.g. to update a progress bar.
        dtype_policy: an already-resolved Keras dtype policy name.
        strategy: a tf.distribute strategy; None mirrors over every GPU when there are two or
            more (``batch_size`` is then the global batch) and uses one device otherwise.

    Returns:
        The run's result, with the exported generator's directory and hash.
    """
    validate_training_data(images, labels, model_config, train_config.batch_size)
    policy = dtype_policy or resolve_precision(train_config.precision)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_run_dir(run_dir, {"model": model_config.resolved(), "train": train_config.resolved()})

    keras.utils.set_random_seed(train_config.seed)
    trainer = ConditionalGanTrainer(model_config, train_config, policy, strategy or resolve_strategy())
    manager = tf.train.CheckpointManager(
        trainer.checkpoint(), run_dir / "checkpoints", max_to_keep=train_config.checkpoint_keep
    )
    if manager.latest_checkpoint:
        trainer.checkpoint().restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logger.info("resuming %s from epoch %d (%s)", run_dir, int(trainer.epoch.numpy()), manager.latest_checkpoint)
    resumed_from = int(trainer.epoch.numpy())
    history_path = run_dir / "history.jsonl"
    history = _read_history(history_path, resumed_from)

    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    grid_labels = tf.constant(np.repeat(np.arange(model_config.num_classes, dtype=np.int32), GRID_PER_CLASS))
    grid_noise = tf.random.Generator.from_seed(train_config.seed + 1).normal([len(grid_labels), model_config.latent_dim])
    steps_per_epoch = len(images) // train_config.batch_size
    if train_config.steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, train_config.steps_per_epoch)
    elapsed_before = history[-1].elapsed_seconds if history else 0.0
    started = time.perf_counter()

    for epoch in range(resumed_from + 1, train_config.epochs + 1):
        epoch_started = time.perf_counter()
        losses = []
        dataset = make_input_pipeline(images, labels, train_config.batch_size, train_config.seed + epoch)
        for batch_images, batch_labels in trainer.distribute(dataset.take(steps_per_epoch)):
            losses.append(trainer.train_step(batch_images, batch_labels))
        discriminator_loss, generator_loss = (float(x) for x in np.mean(np.array(losses, dtype=np.float64), axis=0))
        if not (np.isfinite(discriminator_loss) and np.isfinite(generator_loss)):
            raise TrainingError(
                f"losses became non-finite at epoch {epoch} (D {discriminator_loss}, G {generator_loss}); "
                "lower the learning rates or enable r1_gamma. The last good checkpoint is kept."
            )
        epoch_seconds = time.perf_counter() - epoch_started
        stats = EpochStats(
            epoch=epoch,
            epochs=train_config.epochs,
            steps=len(losses),
            discriminator_loss=discriminator_loss,
            generator_loss=generator_loss,
            images_per_second=len(losses) * train_config.batch_size / epoch_seconds,
            epoch_seconds=epoch_seconds,
            elapsed_seconds=elapsed_before + time.perf_counter() - started,
        )
        trainer.epoch.assign(epoch)
        manager.save(checkpoint_number=epoch)
        with open(history_path, "a") as handle:
            handle.write(json.dumps(asdict(stats)) + "\n")
        history.append(stats)
        _log_epoch(writer, trainer, stats, grid_noise, grid_labels)
        logger.info(
            "epoch %d/%d  D %.4f  G %.4f  %.0f img/s  %.1fs (total %.1fs)",
            epoch, train_config.epochs, discriminator_loss, generator_loss,
            stats.images_per_second, epoch_seconds, stats.elapsed_seconds,
        )
        if on_epoch_end is not None:
            on_epoch_end(stats)
    writer.close()

    generator_dir = run_dir / "generator"
    generator_hash = export_generator(
        trainer.ema_generator, model_config, generator_dir, class_names=class_names,
        extra={"epochs": train_config.epochs, "dtype_policy": policy},
    )
    return TrainResult(run_dir, generator_dir, generator_hash, policy, resumed_from, history)


def _log_epoch(writer, trainer: ConditionalGanTrainer, stats: EpochStats, noise, labels) -> None:
    with writer.as_default(step=stats.epoch):
        tf.summary.scalar("loss/discriminator", stats.discriminator_loss)
        tf.summary.scalar("loss/generator", stats.generator_loss)
        tf.summary.scalar("throughput/images_per_second", stats.images_per_second)
        images = imaging.to_uint8(trainer.ema_generator([noise, labels], training=False).numpy())
        grid = imaging.class_grid(images, labels.numpy(), trainer.model_config.num_classes, GRID_PER_CLASS)
        tf.summary.image("samples/ema_generator", grid[None, ..., None], max_outputs=1)
    writer.flush()
