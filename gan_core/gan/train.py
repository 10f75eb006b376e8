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

import errno
import functools
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from gan_core import imaging
from gan_core.config import EXTENDABLE_TRAIN_FIELDS, ModelConfig, TrainConfig
from gan_core.gan.distribute import resolve_strategy
from gan_core.gan.precision import resolve_precision
from gan_core.gan.sampling import GRID_PER_CLASS, export_generator
from gan_core.gan.trainer import ConditionalGanTrainer
from gan_core.io.faults import fault_point, poisoned
from gan_core.io.fsutil import atomic_write_json

logger = logging.getLogger(__name__)

_EXTENDABLE_FIELDS = set(EXTENDABLE_TRAIN_FIELDS)
# After a divergence the run rolls back to its last good checkpoint and retries once with both
# learning rates multiplied by this; the factor is recorded in the run directory so a resumed
# run keeps it.
DIVERGENCE_LR_FACTOR = 0.1
_DIVERGENCE_FILE = "divergence.json"


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


def validate_training_data(
    images: np.ndarray, labels: np.ndarray, model_config: ModelConfig, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Checks shapes, dtypes, label range and size before any model is built.

    ``batch_size`` is what one step draws: the batch size times the discriminator steps.

    Returns:
        The checked (images (N, H, W) uint8, labels int64).

    Raises:
        TrainingError: the message names the problem and the fix.
    """
    images = imaging.check_images(images, "training images", TrainingError, side=model_config.image_size)
    labels = imaging.check_labels(labels, len(images), model_config.num_classes, "labels", TrainingError)
    if len(images) < batch_size:
        raise TrainingError(
            f"one training step draws {batch_size} real images (batch_size x discriminator_steps) but there "
            f"are only {len(images)}: lower batch_size or discriminator_steps"
        )
    return images, labels


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


def _without_grappler_remapper(function):
    """Runs ``function`` with TensorFlow's grappler remapper pass switched off.

    The remapper tries to fuse D's LeakyReLU gradient through the spectral-norm layers, fails,
    prints ``E0000 ... meta_optimizer.cc ... remapper failed: INVALID_ARGUMENT`` and drops its
    rewrite of the training graph. Skipping the pass runs the same graph without the alarming
    line; the previous setting comes back afterwards, so the judge and sampling keep it.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        previous = tf.config.optimizer.get_experimental_options().get("remapping", True)
        tf.config.optimizer.set_experimental_options({"remapping": False})
        try:
            return function(*args, **kwargs)
        finally:
            tf.config.optimizer.set_experimental_options({"remapping": previous})

    return wrapper


@_without_grappler_remapper
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
    images, labels = validate_training_data(images, labels, model_config, draw)
    policy = dtype_policy or resolve_precision(train_config.precision)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_run_dir(run_dir, {"model": model_config.resolved(), "train": train_config.resolved()})

    divergence_path = run_dir / _DIVERGENCE_FILE
    retried = divergence_path.exists()
    if retried:
        train_config = _lowered(train_config)
        logger.warning("%s diverged before; resuming with learning rates x%s", run_dir, DIVERGENCE_LR_FACTOR)
    trainer, manager = _start(model_config, train_config, policy, strategy, run_dir)
    resumed_from = int(trainer.step.numpy())
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
        if poisoned("train.step"):
            _poison(trainer)
        at_checkpoint = step % train_config.checkpoint_every == 0 or step == train_config.steps
        if not (at_checkpoint or step % train_config.log_every == 0):
            continue
        if not _finite(losses, trainer):
            # Never checkpoint non-finite values: roll back to the last good checkpoint, once.
            if retried:
                raise TrainingError(
                    f"training diverged again (non-finite losses or weights before step {step}) after rolling "
                    f"back and lowering the learning rates x{DIVERGENCE_LR_FACTOR}; nothing was exported. "
                    f"Lower generator_lr/discriminator_lr or enable r1_gamma; checkpoints in {run_dir} hold "
                    "only finite values"
                )
            retried = True
            train_config = _lowered(train_config)
            atomic_write_json(divergence_path, {"diverged_before_step": step, "lr_factor": DIVERGENCE_LR_FACTOR})
            trainer, manager = _start(model_config, train_config, policy, strategy, run_dir)
            good = int(trainer.step.numpy())
            logger.warning(
                "training diverged before step %d (non-finite losses or weights); rolled back to step %d and "
                "retrying with learning rates x%s (G %.3g, D %.3g)",
                step, good, DIVERGENCE_LR_FACTOR, train_config.generator_lr, train_config.discriminator_lr,
            )
            history = _read_history(history_path, good)
            _rewrite_history(history_path, history)
            batches = iter(trainer.distribute(make_training_batches(images, labels, draw, train_config.seed, good)))
            step, losses, interval_started = good, [], time.perf_counter()
            continue
        stats = _interval_stats(losses, step, train_config, interval_started, elapsed_before + time.perf_counter() - started)
        # History first: a crash right after the checkpoint must not lose this row, and a row
        # past the last checkpoint is dropped on resume (_read_history).
        with open(history_path, "a") as handle:
            handle.write(json.dumps(asdict(stats)) + "\n")
        history.append(stats)
        if at_checkpoint:
            _save_checkpoint(manager, step, run_dir)
            _log_grid(writer, trainer, step, grid_noise, grid_labels)
            if on_checkpoint is not None:
                on_checkpoint(step, trainer)
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
        _set_learning_rates(trainer, train_config)
        logger.info("resuming %s from step %d (%s)", run_dir, int(trainer.step.numpy()), manager.latest_checkpoint)
    trainer.host_step = int(trainer.step.numpy())
    return trainer, manager


def _lowered(config: TrainConfig) -> TrainConfig:
    return config.model_copy(
        update={
            "generator_lr": config.generator_lr * DIVERGENCE_LR_FACTOR,
            "discriminator_lr": config.discriminator_lr * DIVERGENCE_LR_FACTOR,
        }
    )


def _set_learning_rates(trainer: ConditionalGanTrainer, config: TrainConfig) -> None:
    pairs = ((trainer.generator_optimizer, config.generator_lr), (trainer.discriminator_optimizer, config.discriminator_lr))
    for optimizer, rate in pairs:
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        if isinstance(inner.learning_rate, keras.Variable):  # a schedule is rebuilt from the config
            inner.learning_rate.assign(rate)


def _finite(losses, trainer: ConditionalGanTrainer) -> bool:
    """Whether the interval's losses and every weight of G, D and the EMA G are finite."""
    if not np.all(np.isfinite(np.array(losses, dtype=np.float64))):
        return False
    models = (trainer.generator, trainer.discriminator, trainer.ema_generator)
    return all(
        bool(tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(variable))))
        for model in models
        for variable in model.weights
        if variable.dtype in ("float16", "bfloat16", "float32", "float64")
    )


def _poison(trainer: ConditionalGanTrainer) -> None:
    """Fault injection (``train.step=nan``): G's first weight becomes NaN, as a blow-up would."""
    variable = trainer.generator.trainable_variables[0]
    variable.assign(tf.fill(variable.shape, float("nan")))


def _save_checkpoint(manager: tf.train.CheckpointManager, step: int, run_dir: Path) -> None:
    """Saves a checkpoint; a full disk becomes a TrainingError that says the last one is intact."""
    try:
        fault_point("train.checkpoint_write")
        manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as exc:
        disk_full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc)
        if not disk_full:
            raise
        for partial in (run_dir / "checkpoints").glob(f"ckpt-{step}[._]*"):
            # TF writes the data before the index, and the 'checkpoint' state file last, so the
            # previous checkpoint is still the latest; remove what this attempt left behind.
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)
        cause = exc if isinstance(exc, OSError) else OSError(errno.ENOSPC, str(exc))
        raise TrainingError(
            f"the disk is full: could not write the checkpoint for step {step} in {run_dir / 'checkpoints'}. "
            f"The previous checkpoint ({manager.latest_checkpoint or 'none yet'}) is intact; free some space "
            "and run the same command again to resume from it"
        ) from cause
    fault_point("train.checkpoint_saved")


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
