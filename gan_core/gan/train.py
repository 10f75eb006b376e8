"""Training the class-conditional GAN: a two-tape ``tf.function`` step, checkpoints and resume.

Typical use::

    result = train_gan(images, labels, ModelConfig(), TrainConfig(steps=5000), run_dir)
    generator = load_generator(result.generator_dir)

The budget is a number of generator steps, so it does not grow with the dataset. A run
directory holds ``config.json`` (the resolved configs), ``checkpoints/`` (every
``checkpoint_every`` steps, the last N kept), ``history.jsonl`` (one line per ``log_every``
steps), ``tensorboard/`` and, once training is complete, ``generator/`` (the exported EMA
generator); :mod:`gan_core.gan.run_state` owns that layout. Calling ``train_gan`` again on the same directory resumes from the last checkpoint;
asking for more steps extends the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from gan_core import imaging
from gan_core.config import ModelConfig, TrainConfig
from gan_core.gan.batches import make_training_batches
from gan_core.gan.distribute import resolve_strategy
from gan_core.gan.grappler import grappler_remapping
from gan_core.gan.divergence import (
    DIVERGENCE_FILE,
    DIVERGENCE_LR_FACTOR,
    all_finite,
    lowered,
    poison,
    set_learning_rates,
)
from gan_core.gan.precision import resolve_precision
from gan_core.gan.run_state import (
    IntervalStats,
    TrainingError,
    append_history,
    check_run_dir,
    read_history,
    rewrite_history,
    save_checkpoint,
)
from gan_core.gan.sampling import GRID_PER_CLASS, export_generator
from gan_core.gan.trainer import ConditionalGanTrainer
from gan_core.io.faults import poisoned
from gan_core.io.fsutil import atomic_write_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """A finished run: where the generator is, its content hash and the logged history."""

    run_dir: Path
    generator_dir: Path
    generator_hash: str
    dtype_policy: str
    resumed_from_step: int
    history: list[IntervalStats]
    steps: int  # generator steps the exported generator was trained for (fewer than asked if the budget ran out)

    @property
    def train_seconds(self) -> float:
        """Training time over every call on the run directory, checkpoints and logs included."""
        return self.history[-1].elapsed_seconds if self.history else 0.0

    @property
    def images_per_second(self) -> float | None:
        """Whole-run rate, checkpoints and logs included: what the budget actually buys."""
        images = sum(row.images_per_second * row.interval_seconds for row in self.history)
        return images / self.train_seconds if self.train_seconds else None


def validate_training_data(
    images: np.ndarray, labels: np.ndarray, model_config: ModelConfig, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Checks shapes, dtypes, label range and size before any model is built.

    ``batch_size`` is what one step draws: the batch size times the discriminator steps.

    Returns:
        The checked (images (N, H, W, C) uint8, labels int64).

    Raises:
        TrainingError: the message names the problem and the fix.
    """
    images = imaging.check_images(
        images, "training images", TrainingError, side=model_config.image_size, channels=model_config.channels
    )
    labels = imaging.check_labels(labels, len(images), model_config.num_classes, "labels", TrainingError)
    if len(images) < batch_size:
        raise TrainingError(
            f"one training step draws {batch_size} real images (batch_size x discriminator_steps) but there "
            f"are only {len(images)}: lower batch_size or discriminator_steps"
        )
    return images, labels


@grappler_remapping(enabled=False)
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
        images: uint8 (N, H, W, C) real training images, the geometry ``model_config`` is built for.
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
    images, labels = validate_training_data(images, labels, model_config, draw)
    train_config = train_config.for_training_set(len(images))
    policy = dtype_policy or resolve_precision(train_config.precision)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    check_run_dir(run_dir, {"model": model_config.resolved(), "train": train_config.resolved()})

    divergence_path = run_dir / DIVERGENCE_FILE
    retried = divergence_path.exists()
    if retried:
        train_config = lowered(train_config)
        logger.warning("%s diverged before; resuming with learning rates x%s", run_dir, DIVERGENCE_LR_FACTOR)
    trainer, manager = _start(model_config, train_config, policy, strategy, run_dir)
    resumed_from = int(trainer.step.numpy())
    history_path = run_dir / "history.jsonl"
    history = read_history(history_path, resumed_from)
    rewrite_history(history_path, history)

    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    grid_labels = tf.constant(np.repeat(np.arange(model_config.num_classes, dtype=np.int32), GRID_PER_CLASS))
    grid_noise = tf.random.Generator.from_seed(train_config.seed + 1).normal(
        [len(grid_labels), model_config.latent_dim]
    )
    elapsed_before = history[-1].elapsed_seconds if history else 0.0
    started = time.perf_counter()
    batches = iter(trainer.distribute(make_training_batches(images, labels, draw, train_config.seed, resumed_from)))

    budget = train_config.time_budget_seconds
    out_of_time = budget is not None and elapsed_before >= budget
    if out_of_time:
        logger.info(
            "%s has trained %.0f s of its %.0f s budget: nothing left to train", run_dir, elapsed_before, budget
        )
    step, losses, interval_started = resumed_from, [], time.perf_counter()
    while step < train_config.steps and not out_of_time:
        batch_images, batch_labels = next(batches)
        losses.append(trainer.train_step(batch_images, batch_labels))
        step += 1
        if poisoned("train.step"):
            poison(trainer)
        # The budget counts the run's whole training time, so a re-run of a spent budget trains no more.
        out_of_time = budget is not None and elapsed_before + time.perf_counter() - started >= budget
        at_checkpoint = step % train_config.checkpoint_every == 0 or step == train_config.steps or out_of_time
        if not (at_checkpoint or step % train_config.log_every == 0):
            continue
        if not all_finite(losses, trainer):
            # Never checkpoint non-finite values: roll back to the last good checkpoint, once.
            if retried:
                raise TrainingError(
                    f"training diverged again (non-finite losses or weights before step {step}) after rolling "
                    f"back and lowering the learning rates x{DIVERGENCE_LR_FACTOR}; nothing was exported. "
                    f"Lower generator_lr/discriminator_lr or enable r1_gamma; checkpoints in {run_dir} hold "
                    "only finite values"
                )
            retried = True
            train_config = lowered(train_config)
            atomic_write_json(divergence_path, {"diverged_before_step": step, "lr_factor": DIVERGENCE_LR_FACTOR})
            trainer, manager = _start(model_config, train_config, policy, strategy, run_dir)
            good = int(trainer.step.numpy())
            logger.warning(
                "training diverged before step %d (non-finite losses or weights); rolled back to step %d and "
                "retrying with learning rates x%s (G %.3g, D %.3g)",
                step,
                good,
                DIVERGENCE_LR_FACTOR,
                train_config.generator_lr,
                train_config.discriminator_lr,
            )
            history = read_history(history_path, good)
            rewrite_history(history_path, history)
            batches = iter(trainer.distribute(make_training_batches(images, labels, draw, train_config.seed, good)))
            step, losses, interval_started = good, [], time.perf_counter()
            continue
        stats = _interval_stats(
            losses, step, train_config, interval_started, elapsed_before + time.perf_counter() - started
        )
        # History first: a crash right after the checkpoint must not lose this row, and a row
        # past the last checkpoint is dropped on resume (_read_history).
        append_history(history_path, stats)
        history.append(stats)
        if at_checkpoint:
            save_checkpoint(manager, step, run_dir)
            _log_grid(writer, trainer, step, grid_noise, grid_labels)
            if on_checkpoint is not None:
                on_checkpoint(step, trainer)
        _log_scalars(writer, stats)
        logger.info(
            "step %d/%d  D %.4f  G %.4f  %.0f img/s  (total %.1fs)",
            step,
            train_config.steps,
            stats.discriminator_loss,
            stats.generator_loss,
            stats.images_per_second,
            stats.elapsed_seconds,
        )
        if on_progress is not None:
            on_progress(stats)
        losses, interval_started = [], time.perf_counter()
    writer.close()
    if out_of_time:
        logger.info(
            "time budget of %.0f s reached at step %d of %d: final checkpoint saved; a re-run with a larger "
            "time_budget resumes from it",
            budget,
            step,
            train_config.steps,
        )

    generator_dir = run_dir / "generator"
    generator_hash = export_generator(
        trainer.ema_generator,
        model_config,
        generator_dir,
        class_names=class_names,
        extra={"steps": step, "dtype_policy": policy},
    )
    return TrainResult(run_dir, generator_dir, generator_hash, policy, resumed_from, history, step)


def _start(
    model_config: ModelConfig,
    train_config: TrainConfig,
    policy: str,
    strategy: tf.distribute.Strategy | None,
    run_dir: Path,
) -> tuple[ConditionalGanTrainer, tf.train.CheckpointManager]:
    """Builds the trainer and restores the run's last checkpoint, if any."""
    keras.utils.set_random_seed(train_config.seed)
    trainer = ConditionalGanTrainer(model_config, train_config, policy, strategy or resolve_strategy())
    manager = tf.train.CheckpointManager(
        trainer.checkpoint(), run_dir / "checkpoints", max_to_keep=train_config.checkpoint_keep
    )
    if manager.latest_checkpoint:
        trainer.checkpoint().restore(manager.latest_checkpoint).assert_existing_objects_matched()
        # The checkpoint carries the optimizers' learning-rate variables; a lowered rate wins.
        set_learning_rates(trainer, train_config)
        logger.info("resuming %s from step %d (%s)", run_dir, int(trainer.step.numpy()), manager.latest_checkpoint)
    trainer.host_step = int(trainer.step.numpy())
    return trainer, manager


def _interval_stats(losses, step: int, config: TrainConfig, interval_started: float, elapsed: float) -> IntervalStats:
    """Summarises the steps since the last log line (``all_finite`` has checked them)."""
    discriminator_loss, generator_loss = (float(x) for x in np.mean(np.array(losses, dtype=np.float64), axis=0))
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
        tf.summary.image("samples/ema_generator", grid[None], max_outputs=1)
