"""Training the class-conditional GAN: a two-tape ``tf.function`` step, checkpoints and resume.

Typical use::

    result = train_gan(images, labels, ModelConfig(), TrainConfig(steps=5000), run_dir)
    generator = load_generator(result.generator_dir)

The budget is a number of generator steps, so it does not grow with the dataset. A run
directory holds ``config.json`` (the resolved configs), ``checkpoints/`` (every
``checkpoint_every`` steps, the last N kept), ``history.jsonl`` (one line per ``log_every``
steps), ``tensorboard/`` and, once training is complete, ``generator/`` (the exported EMA
generator). Calling ``train_gan`` again on the same directory resumes from the last checkpoint;
asking for more steps extends the run.
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
from gan_core.config import EXTENDABLE_TRAIN_FIELDS, ModelConfig, TrainConfig
from gan_core.diffaugment import diff_augment, parse_policy
from gan_core.distribute import check_global_batch, resolve_strategy
from gan_core.fsutil import atomic_write_json
from gan_core.losses import lecam_penalty, loss_pair, mode_seeking_penalty
from gan_core.models import build_discriminator, build_generator
from gan_core.precision import make_optimizer, resolve_precision
from gan_core.sampling import GRID_PER_CLASS, export_generator

logger = logging.getLogger(__name__)

_EXTENDABLE_FIELDS = set(EXTENDABLE_TRAIN_FIELDS)
# LeCam's moving averages of D's outputs (Tseng et al. 2021 use 0.99).
_LECAM_DECAY = 0.99


class TrainingError(RuntimeError):
    """Training cannot start or continue; the message says why and what to do."""


@dataclass(frozen=True)
class IntervalStats:
    """What the steps since the previous log line did."""

    step: int
    steps: int
    interval_steps: int
    discriminator_loss: float
    generator_loss: float
    images_per_second: float
    interval_seconds: float
    elapsed_seconds: float


@dataclass(frozen=True)
class TrainResult:
    """A finished run: where the generator is, its content hash and the logged history."""

    run_dir: Path
    generator_dir: Path
    generator_hash: str
    dtype_policy: str
    resumed_from_step: int
    history: list[IntervalStats]


class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant rate for the first half of ``total_steps``, then linearly down to 0."""

    def __init__(self, learning_rate: float, total_steps: int):
        self.learning_rate = learning_rate
        self.total_steps = total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        half = self.total_steps / 2.0
        remaining = tf.clip_by_value((self.total_steps - step) / max(half, 1.0), 0.0, 1.0)
        return self.learning_rate * remaining

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps}


def learning_rate(base: float, decay: str, optimizer_steps: int):
    """A float for constant rates, else the decay schedule over ``optimizer_steps`` updates."""
    return base if decay == "constant" else LinearDecay(base, optimizer_steps)


class ConditionalGanTrainer:
    """Owns G, D, the EMA copy of G, both optimizers and the seeded noise stream.

    With a multi-replica ``strategy`` everything is created in its scope (mirrored) and each
    step runs on every replica; ``batch_size`` is the global batch. Each call of
    :meth:`train_step` takes ``discriminator_steps`` global batches stacked into one.
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
        # Host-side copy of the step counter: reading the variable back every step would stall
        # the pipeline, and lazy R1 only needs to know the parity on the host.
        self.host_step = 0

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
        steps, decay = train_config.steps, train_config.lr_decay
        self.generator_optimizer = make_optimizer(
            learning_rate(train_config.generator_lr, decay, steps), train_config.beta_1, train_config.beta_2, dtype_policy
        )
        self.discriminator_optimizer = make_optimizer(
            learning_rate(train_config.discriminator_lr, decay, steps * train_config.discriminator_steps),
            train_config.beta_1, train_config.beta_2, dtype_policy,
        )
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.rng = tf.random.Generator.from_seed(train_config.seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        mean = {"trainable": False, "aggregation": tf.VariableAggregation.MEAN}
        self.lecam_real = tf.Variable(0.0, name="lecam_real", **mean)
        self.lecam_fake = tf.Variable(0.0, name="lecam_fake", **mean)
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
            step=self.step,
            lecam_real=self.lecam_real,
            lecam_fake=self.lecam_fake,
        )

    def train_step(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Runs the D updates and one G update; returns (discriminator_loss, generator_loss)."""
        config = self.train_config
        lazy_r1 = config.r1_gamma > 0 and self.host_step % config.r1_interval == 0
        self.host_step += 1
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

    def _train_step(self, real_images: tf.Tensor, real_labels: tf.Tensor, apply_r1: bool):
        config = self.train_config
        per_update = tf.shape(real_images)[0] // config.discriminator_steps
        for update in range(config.discriminator_steps):
            images = real_images[update * per_update : (update + 1) * per_update]
            labels = real_labels[update * per_update : (update + 1) * per_update]
            discriminator_loss = self._discriminator_update(images, labels, apply_r1 and update == 0)
        generator_loss = self._generator_update(labels)
        self._update_ema()
        self.step.assign_add(1)
        return discriminator_loss, generator_loss

    def _discriminator_update(self, real_images: tf.Tensor, labels: tf.Tensor, apply_r1: bool) -> tf.Tensor:
        config = self.train_config
        generator, discriminator = self.generator, self.discriminator
        # 1. Discriminator: real vs fresh fakes, both through the same differentiable augmentation.
        noise = self.rng.normal([tf.shape(real_images)[0], self.model_config.latent_dim])
        with tf.GradientTape() as tape:
            fake_images = generator([noise, labels], training=True)
            real_logits = discriminator([self._augment(real_images), labels], training=True)
            fake_logits = discriminator([self._augment(fake_images), labels], training=True)
            discriminator_loss = self._discriminator_loss(real_logits, fake_logits)
            total = discriminator_loss
            if config.lecam_weight > 0:
                total += config.lecam_weight * self._lecam(real_logits, fake_logits)
            if apply_r1:
                total += self._r1_penalty(real_images, labels) * (0.5 * config.r1_gamma * config.r1_interval)
            scaled = self._scaled(self.discriminator_optimizer, total)
        gradients = tape.gradient(scaled, discriminator.trainable_variables)
        self.discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
        return discriminator_loss

    def _generator_update(self, labels: tf.Tensor) -> tf.Tensor:
        config = self.train_config
        generator, discriminator = self.generator, self.discriminator
        # 2. Generator: new noise, so G never trains on the exact fakes D just saw. With the
        # mode-seeking term the batch is two halves that share labels but not noise.
        if config.mode_seeking_weight > 0:
            half = tf.shape(labels)[0] // 2
            labels = tf.concat([labels[:half], labels[:half]], axis=0)
        noise = self.rng.normal([tf.shape(labels)[0], self.model_config.latent_dim])
        with tf.GradientTape() as tape:
            fake_images = generator([noise, labels], training=True)
            fake_logits = discriminator([self._augment(fake_images), labels], training=True)
            generator_loss = self._generator_loss(fake_logits)
            total = generator_loss
            if config.mode_seeking_weight > 0:
                total += config.mode_seeking_weight * mode_seeking_penalty(fake_images, noise)
            scaled = self._scaled(self.generator_optimizer, total)
        gradients = tape.gradient(scaled, generator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))
        return generator_loss

    def _lecam(self, real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
        penalty = lecam_penalty(real_logits, fake_logits, self.lecam_real, self.lecam_fake)
        for average, logits in ((self.lecam_real, real_logits), (self.lecam_fake, fake_logits)):
            average.assign(_LECAM_DECAY * average + (1.0 - _LECAM_DECAY) * tf.reduce_mean(tf.stop_gradient(logits)))
        return penalty

    def _r1_penalty(self, real_images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(real_images)
            logit_sum = tf.reduce_sum(self.discriminator([real_images, labels], training=True))
        gradients = tf.cast(tape.gradient(logit_sum, real_images), tf.float32)
        return tf.reduce_mean(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))

    def _update_ema(self) -> None:
        # 3. Exponential moving average of G's weights, used for sampling. Before ema_start it is
        # a copy of G; after it, a warm-up lets the effective decay grow with the steps averaged
        # (as in TF's ExponentialMovingAverage), so early weights are forgotten quickly.
        averaged = tf.cast(self.step, tf.float32) - float(self.train_config.ema_start)
        decay = tf.minimum(self.train_config.ema_decay, (1.0 + averaged) / (10.0 + averaged))
        decay = tf.where(averaged < 0, 0.0, decay)
        for ema_weight, weight in zip(self.ema_generator.weights, self.generator.weights):
            value = tf.cast(weight, ema_weight.dtype)
            if weight.trainable and self.train_config.ema_decay > 0:
                ema_weight.assign(decay * ema_weight + (1.0 - decay) * value)
            else:
                ema_weight.assign(value)  # BatchNorm statistics, or EMA disabled


def make_training_batches(
    images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int, start_step: int = 0
) -> tf.data.Dataset:
    """Endless (image in [-1, 1], label) batches, reshuffled every pass, starting at ``start_step``.

    Pass ``e`` is shuffled with seed ``seed + e``, so a run resumed at any step sees the batches
    an uninterrupted run would have seen.
    """
    per_pass = len(images) // batch_size
    first_pass, offset = divmod(start_step, per_pass)
    all_images = tf.constant(images)
    all_labels = tf.constant(labels.astype(np.int32))

    def one_pass(index: tf.Tensor) -> tf.data.Dataset:
        # A stateless shuffle keyed on (seed, pass): no hidden RNG state to checkpoint.
        order = tf.random.experimental.stateless_shuffle(
            tf.range(len(images), dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), index])
        )
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order[: per_pass * batch_size], [per_pass, batch_size]))

    def gather(rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        pixels = tf.cast(tf.gather(all_images, rows), tf.float32)[..., None]
        return (pixels - 127.5) / 127.5, tf.gather(all_labels, rows)

    dataset = tf.data.Dataset.range(first_pass, 2**62).flat_map(one_pass).skip(offset)
    return dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def validate_training_data(images: np.ndarray, labels: np.ndarray, model_config: ModelConfig, batch_size: int) -> None:
    """Checks shapes, dtypes, label range and size before any model is built.

    ``batch_size`` is what one step draws: the batch size times the discriminator steps.

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
            f"one training step draws {batch_size} real images (batch_size x discriminator_steps) but there "
            f"are only {len(images)}: lower batch_size or discriminator_steps"
        )


def _check_run_dir(run_dir: Path, resolved: dict) -> None:
    config_path = run_dir / "config.json"
    if not config_path.exists():
        atomic_write_json(config_path, resolved)
        return
    previous = json.loads(config_path.read_text())

    def fixed(configs: dict) -> dict:
        return {
            section: {k: v for k, v in values.items() if k not in _EXTENDABLE_FIELDS}
            for section, values in configs.items()
        }

    if fixed(previous) != fixed(resolved):
        raise TrainingError(
            f"{run_dir} holds a run with a different configuration; resume needs the same settings "
            f"(only {sorted(_EXTENDABLE_FIELDS)} may change). Use another run directory or delete this one."
        )
    atomic_write_json(config_path, resolved)


def _read_history(path: Path, up_to_step: int) -> list[IntervalStats]:
    if not path.exists():
        return []
    rows = [IntervalStats(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    # A crash between a log line and the next checkpoint leaves rows past it; the checkpoint is
    # the truth, so keep one row per step up to it.
    by_step = {row.step: row for row in rows if row.step <= up_to_step}
    return [by_step[step] for step in sorted(by_step)]


def _rewrite_history(path: Path, history: list[IntervalStats]) -> None:
    path.write_text("".join(json.dumps(asdict(row)) + "\n" for row in history))


def train_gan(
    images: np.ndarray,
    labels: np.ndarray,
    model_config: ModelConfig,
    train_config: TrainConfig,
    run_dir: Path,
    class_names: tuple[str, ...] | None = None,
    on_progress: Callable[[IntervalStats], None] | None = None,
    dtype_policy: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    on_checkpoint: Callable[[int, ConditionalGanTrainer], None] | None = None,
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
        on_progress: called at every log line, e.g. to update a progress bar.
        dtype_policy: an already-resolved Keras dtype policy name.
        strategy: a tf.distribute strategy; None mirrors over every GPU when there are two or
            more (``batch_size`` is then the global batch) and uses one device otherwise.
        on_checkpoint: called as ``(step, trainer)`` after every checkpoint (benchmarks use it
            to snapshot the EMA generator).

    Returns:
        The run's result, with the exported generator's directory and hash.
    """
    draw = train_config.batch_size * train_config.discriminator_steps
    validate_training_data(images, labels, model_config, draw)
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
        logger.info("resuming %s from step %d (%s)", run_dir, int(trainer.step.numpy()), manager.latest_checkpoint)
    resumed_from = int(trainer.step.numpy())
    trainer.host_step = resumed_from
    history_path = run_dir / "history.jsonl"
    history = _read_history(history_path, resumed_from)
    _rewrite_history(history_path, history)

    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    grid_labels = tf.constant(np.repeat(np.arange(model_config.num_classes, dtype=np.int32), GRID_PER_CLASS))
    grid_noise = tf.random.Generator.from_seed(train_config.seed + 1).normal([len(grid_labels), model_config.latent_dim])
    elapsed_before = history[-1].elapsed_seconds if history else 0.0
    started = time.perf_counter()
    batches = iter(trainer.distribute(
        make_training_batches(images, labels, draw, train_config.seed, resumed_from)
    ))

    step, losses, interval_started = resumed_from, [], time.perf_counter()
    while step < train_config.steps:
        batch_images, batch_labels = next(batches)
        losses.append(trainer.train_step(batch_images, batch_labels))
        step += 1
        at_checkpoint = step % train_config.checkpoint_every == 0 or step == train_config.steps
        if not (at_checkpoint or step % train_config.log_every == 0):
            continue
        stats = _interval_stats(losses, step, train_config, interval_started, elapsed_before + time.perf_counter() - started)
        if at_checkpoint:
            manager.save(checkpoint_number=step)
            _log_grid(writer, trainer, step, grid_noise, grid_labels)
            if on_checkpoint is not None:
                on_checkpoint(step, trainer)
        with open(history_path, "a") as handle:
            handle.write(json.dumps(asdict(stats)) + "\n")
        history.append(stats)
        _log_scalars(writer, stats)
        logger.info(
            "step %d/%d  D %.4f  G %.4f  %.0f img/s  (total %.1fs)",
            step, train_config.steps, stats.discriminator_loss, stats.generator_loss,
            stats.images_per_second, stats.elapsed_seconds,
        )
        if on_progress is not None:
            on_progress(stats)
        losses, interval_started = [], time.perf_counter()
    writer.close()

    generator_dir = run_dir / "generator"
    generator_hash = export_generator(
        trainer.ema_generator, model_config, generator_dir, class_names=class_names,
        extra={"steps": train_config.steps, "dtype_policy": policy},
    )
    return TrainResult(run_dir, generator_dir, generator_hash, policy, resumed_from, history)


def _interval_stats(losses, step: int, config: TrainConfig, interval_started: float, elapsed: float) -> IntervalStats:
    """Summarises the steps since the last log line; refuses to go on if a loss is non-finite."""
    discriminator_loss, generator_loss = (float(x) for x in np.mean(np.array(losses, dtype=np.float64), axis=0))
    if not (np.isfinite(discriminator_loss) and np.isfinite(generator_loss)):
        raise TrainingError(
            f"losses became non-finite before step {step} (D {discriminator_loss}, G {generator_loss}); "
            "lower the learning rates or enable r1_gamma. The last good checkpoint is kept."
        )
    seconds = time.perf_counter() - interval_started
    return IntervalStats(
        step=step,
        steps=config.steps,
        interval_steps=len(losses),
        discriminator_loss=discriminator_loss,
        generator_loss=generator_loss,
        images_per_second=len(losses) * config.batch_size / seconds,
        interval_seconds=seconds,
        elapsed_seconds=elapsed,
    )


def _log_scalars(writer, stats: IntervalStats) -> None:
    with writer.as_default(step=stats.step):
        tf.summary.scalar("loss/discriminator", stats.discriminator_loss)
        tf.summary.scalar("loss/generator", stats.generator_loss)
        tf.summary.scalar("throughput/images_per_second", stats.images_per_second)
    writer.flush()


def _log_grid(writer, trainer: ConditionalGanTrainer, step: int, noise, labels) -> None:
    with writer.as_default(step=step):
        images = imaging.to_uint8(trainer.ema_generator([noise, labels], training=False).numpy())
        grid = imaging.class_grid(images, labels.numpy(), trainer.model_config.num_classes, GRID_PER_CLASS)
        tf.summary.image("samples/ema_generator", grid[None, ..., None], max_outputs=1)
