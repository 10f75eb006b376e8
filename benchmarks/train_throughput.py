"""Training throughput: the project's GAN trainer against a TF-DCGAN-tutorial-style loop.

Both arms train the SAME class-conditional generator and discriminator (``build_generator`` /
``build_discriminator`` with one ``ModelConfig``) on the bundled 8k MNIST sample at one batch
size, in one process, so only the training loop differs:

- ``baseline``: the TensorFlow DCGAN tutorial's loop, conditioned on labels. One plain
  ``@tf.function`` step with ``gen_tape`` and ``disc_tape`` opened together, one shared
  ``tf.random.normal`` noise draw, BCE-from-logits losses, two ``Adam(1e-4)`` optimizers, fed by
  ``Dataset.from_tensor_slices(...).shuffle(BUFFER).batch(BATCH)`` over pre-normalised floats.
- ``project``: ``ConditionalGanTrainer.train_step`` (separate D then G updates, DiffAugment, EMA,
  lazy R1 and loss scaling as the default ``TrainConfig`` sets them) fed by
  ``make_training_batches``.

Both arms are warmed up (traced) first, then timed in interleaved rounds (baseline, project,
baseline, project, ...) so drift on a shared machine hits both alike. Thread settings are left
at TensorFlow's defaults. Nothing here asserts on time.

Usage::

    .venv/bin/python benchmarks/train_throughput.py                 # 5 rounds x 30 steps, batch 64
    .venv/bin/python benchmarks/train_throughput.py --precision mixed_bfloat16
    .venv/bin/python benchmarks/train_throughput.py --quick --output /tmp/tt.json
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "train_throughput.json"
DEFAULT_ROUNDS = 5
DEFAULT_STEPS = 30
DEFAULT_BATCH_SIZE = 64
QUICK_ROUNDS = 2
QUICK_STEPS = 3
# Two steps per arm before timing: the first traces the tf.function, the second shows it runs
# without retracing (and lets tf.data start its prefetch threads).
WARMUP_STEPS = 2
ARMS = ("baseline", "project")


@dataclass
class Arm:
    """One training loop under test.

    Attributes:
        train_step: called as ``train_step(images, labels)``.
        batches: endless iterator of (images, labels) batches.
        sync: blocks until every queued step has finished (read at the end of a timed round).
        features: what this loop does, written into the JSON.
        warm_up: extra tracing before the warm-up steps, if the arm needs any.
    """

    train_step: Callable
    batches: Iterator[tuple]
    sync: Callable[[], object]
    features: dict
    warm_up: Callable[[], None] = field(default=lambda: None)


def _parse_args(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    from gan_core.config import ModelConfig

    model_defaults = ModelConfig()
    parser = argparse.ArgumentParser(
        description="Compare training throughput (img/s) of the project's GAN trainer with a "
        "TF-DCGAN-tutorial loop on the same conditional G and D.",
    )
    parser.add_argument("--rounds", type=int, default=None,
                        help=f"timed rounds per arm, interleaved (default {DEFAULT_ROUNDS}; {QUICK_ROUNDS} with --quick)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps per round (default {DEFAULT_STEPS}; {QUICK_STEPS} with --quick)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="images per step, both arms")
    parser.add_argument("--precision", default="float32",
                        choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
                        help="Keras dtype policy for both arms; mixed_float16 is refused without a GPU")
    parser.add_argument("--generator-width", type=int, default=model_defaults.generator_width,
                        help="ModelConfig.generator_width (base channel count of G)")
    parser.add_argument("--discriminator-width", type=int, default=model_defaults.discriminator_width,
                        help="ModelConfig.discriminator_width (base channel count of D)")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny run for tests: {QUICK_ROUNDS} rounds x {QUICK_STEPS} steps unless given")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON result goes")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    return parser, args


def _repeat_epochs(make_epoch: Callable[[int], "object"]) -> Iterator[tuple]:
    """Yields batches forever, one fresh epoch dataset after another, like an epoch loop does."""
    epoch = 0
    while True:
        epoch += 1
        for batch in make_epoch(epoch):
            yield batch


def build_baseline(model_config, dtype_policy: str, images, labels, batch_size: int):
    """The TF DCGAN tutorial's training loop, conditioned on labels.

    Returns:
        (arm, generator, discriminator); the models are returned for parameter counts.
    """
    import numpy as np
    import tensorflow as tf

    from gan_core.gan.models import build_discriminator, build_generator

    generator = build_generator(model_config, dtype_policy)
    discriminator = build_discriminator(model_config, dtype_policy)
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real_output, fake_output):
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    generator_optimizer = tf.keras.optimizers.Adam(1e-4)
    discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)
    noise_dim = model_config.latent_dim

    @tf.function
    def train_step(images, labels):
        # The tutorial draws [BATCH_SIZE, noise_dim]; the conditional G needs one label per noise
        # row, so the draw follows the real batch (equal except for an epoch's last partial batch).
        noise = tf.random.normal([tf.shape(images)[0], noise_dim])

        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator([noise, labels], training=True)

            real_output = discriminator([images, labels], training=True)
            fake_output = discriminator([generated_images, labels], training=True)

            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)

        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))

    # The tutorial normalises in NumPy up front and shuffles with a buffer as large as the data.
    train_images = images.reshape(images.shape[0], 28, 28, 1).astype("float32")
    train_images = (train_images - 127.5) / 127.5
    buffer_size = len(train_images)
    dataset = (
        tf.data.Dataset.from_tensor_slices((train_images, labels.astype(np.int32)))
        .shuffle(buffer_size)
        .batch(batch_size)
    )
    features = {
        "loop": "TF DCGAN tutorial: one @tf.function, gen_tape + disc_tape together, simultaneous updates",
        "loss": "binary cross-entropy from logits",
        "optimizers": "2 x Adam(1e-4), no loss scaling",
        "noise": "one shared tf.random.normal draw per step",
        "diffaugment": None,
        "ema": False,
        "r1": False,
        "input_pipeline": f"from_tensor_slices(float32).shuffle({buffer_size}).batch({batch_size})",
    }
    remainder = len(train_images) % batch_size

    def warm_up() -> None:
        # An epoch's last partial batch has its own shape and would trace a second graph in the
        # middle of a timed round; trace it here instead.
        if remainder:
            train_step(tf.constant(train_images[:remainder]), tf.constant(labels[:remainder].astype(np.int32)))

    arm = Arm(train_step, _repeat_epochs(lambda epoch: dataset), generator_optimizer.iterations.numpy, features, warm_up)
    return arm, generator, discriminator


def build_project(model_config, train_config, dtype_policy: str, images, labels) -> Arm:
    """The project's trainer and input pipeline, as ``train_gan`` drives them."""
    from gan_core.gan.diffaugment import parse_policy
    from gan_core.gan.precision import needs_loss_scaling
    from gan_core.gan.batches import make_training_batches
    from gan_core.gan.trainer import ConditionalGanTrainer

    train_config = train_config.for_training_set(len(images))
    trainer = ConditionalGanTrainer(model_config, train_config, dtype_policy)
    batches = iter(make_training_batches(
        images, labels, train_config.batch_size * train_config.discriminator_steps, train_config.seed
    ))
    features = {
        "loop": "ConditionalGanTrainer.train_step: D update, then G update with fresh noise, in a tf.function",
        "loss": train_config.loss,
        "optimizers": f"2 x Adam(G {train_config.generator_lr}, D {train_config.discriminator_lr}, "
                      f"betas {train_config.beta_1}/{train_config.beta_2})",
        "loss_scaling": needs_loss_scaling(dtype_policy),
        "noise": "two draws per step from a seeded tf.random.Generator",
        "diffaugment": list(parse_policy(train_config.diffaugment)) or None,
        "ema": train_config.ema_decay > 0,
        "ema_decay": train_config.ema_decay,
        "r1": train_config.r1_gamma > 0,
        "r1_gamma": train_config.r1_gamma,
        "r1_interval": train_config.r1_interval,
        "input_pipeline": "make_training_batches: endless stateless per-pass shuffle, batched gather, normalise, prefetch",
    }
    return Arm(trainer.train_step, batches, trainer.step.numpy, features)


def _run_steps(arm: Arm, steps: int) -> tuple[int, float]:
    """Runs ``steps`` steps; returns (images seen, seconds), waiting for the last step to finish."""
    seen = 0
    started = time.perf_counter()
    for _ in range(steps):
        images, labels = next(arm.batches)
        arm.train_step(images, labels)
        seen += int(images.shape[0])
    arm.sync()
    return seen, time.perf_counter() - started


def _summary(rates: list[float]) -> dict:
    return {
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "spread_percent": 100.0 * (max(rates) - min(rates)) / statistics.median(rates),
    }


def run_benchmark(model_config, train_config, dtype_policy: str, images, labels, rounds: int, steps: int) -> dict:
    """Builds both arms, warms them up, times interleaved rounds; returns the result document."""
    baseline, generator, discriminator = build_baseline(
        model_config, dtype_policy, images, labels, train_config.batch_size
    )
    arms = {"baseline": baseline, "project": build_project(model_config, train_config, dtype_policy, images, labels)}

    warmup_seconds = {}
    for name, arm in arms.items():
        started = time.perf_counter()
        arm.warm_up()
        _run_steps(arm, WARMUP_STEPS)
        warmup_seconds[name] = time.perf_counter() - started
        logger.info("warm-up %s: %.1fs", name, warmup_seconds[name])

    per_round: dict[str, list[dict]] = {name: [] for name in ARMS}
    for index in range(1, rounds + 1):
        for name in ARMS:
            seen, seconds = _run_steps(arms[name], steps)
            per_round[name].append({"images": seen, "seconds": seconds, "images_per_second": seen / seconds})
            logger.info("round %d/%d %-8s %7.1f img/s (%d images in %.2fs)", index, rounds, name, seen / seconds, seen, seconds)

    results = {}
    for name in ARMS:
        rates = [row["images_per_second"] for row in per_round[name]]
        results[name] = {
            "features": arms[name].features,
            "warmup_seconds": warmup_seconds[name],
            "rounds": per_round[name],
            "images_per_second": _summary(rates),
        }
    baseline_median = results["baseline"]["images_per_second"]["median"]
    project_median = results["project"]["images_per_second"]["median"]
    # Each round's pair ran back to back, so its ratio cancels slow drift in machine load.
    per_round_ratio = [
        p["images_per_second"] / b["images_per_second"] for b, p in zip(per_round["baseline"], per_round["project"])
    ]
    return {
        "arms": results,
        "ratio_project_over_baseline": project_median / baseline_median,
        "per_round_ratio": per_round_ratio,
        "per_round_ratio_median": statistics.median(per_round_ratio),
        "generator_params": int(generator.count_params()),
        "discriminator_params": int(discriminator.count_params()),
    }


def format_table(result: dict) -> str:
    """A short plain-text table of the medians, spread and ratio."""
    lines = [f"{'arm':<10}{'median img/s':>14}{'min':>10}{'max':>10}{'spread':>9}"]
    for name in ARMS:
        rate = result["arms"][name]["images_per_second"]
        lines.append(
            f"{name:<10}{rate['median']:>14.1f}{rate['min']:>10.1f}{rate['max']:>10.1f}{rate['spread_percent']:>8.0f}%"
        )
    lines.append(f"ratio project/baseline (medians): {result['ratio_project_over_baseline']:.3f}")
    lines.append(f"median of per-round ratios:       {result['per_round_ratio_median']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Runs the benchmark from command-line arguments, prints a table and writes the JSON.

    Returns:
        The result document that was written to ``--output``.
    """
    parser, args = _parse_args(argv)

    from pydantic import ValidationError

    from gan_core.config import ModelConfig, TrainConfig
    from gan_core.data import load_bundled_sample
    from gan_core.io.fsutil import atomic_write_json
    from gan_core.machine import load_average, machine_info
    from gan_core.gan.precision import PrecisionError, resolve_precision
    from gan_core.gan.train import TrainingError, validate_training_data

    try:
        dtype_policy = resolve_precision(args.precision)
        model_config = ModelConfig(generator_width=args.generator_width, discriminator_width=args.discriminator_width)
        # Everything but batch size and precision stays at TrainConfig's defaults.
        train_config = TrainConfig(batch_size=args.batch_size, precision=dtype_policy)
    except (PrecisionError, ValidationError) as error:
        parser.error(str(error))

    sample = load_bundled_sample()
    images, labels = sample.train_images, sample.train_labels
    train_config = train_config.for_training_set(len(images))  # 'auto' DiffAugment, as train_gan resolves it
    try:
        validate_training_data(images, labels, model_config, train_config.batch_size)
    except TrainingError as error:
        parser.error(str(error))

    logger.info(
        "benchmarking %d rounds x %d steps, batch %d, %s, G width %d, D width %d",
        args.rounds, args.steps, args.batch_size, dtype_policy, args.generator_width, args.discriminator_width,
    )
    machine = machine_info()
    measured = run_benchmark(model_config, train_config, dtype_policy, images, labels, args.rounds, args.steps)
    machine["load_average_after_1_5_15"] = load_average()
    result = {
        "benchmark": "train_throughput",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])],
        "machine": machine,
        "precision": {"requested": args.precision, "dtype_policy": dtype_policy},
        "config": {
            "rounds": args.rounds,
            "steps_per_round": args.steps,
            "warmup_steps": WARMUP_STEPS,
            "batch_size": args.batch_size,
            "quick": args.quick,
            "order": "interleaved: " + ", ".join(ARMS) + ", repeated per round",
            "data": {"source": sample.source_used, "train_images": int(len(images))},
            "model": model_config.resolved(),
            "train": train_config.resolved(),
            "generator_params": measured.pop("generator_params"),
            "discriminator_params": measured.pop("discriminator_params"),
        },
        **measured,
    }
    output = Path(args.output)
    atomic_write_json(output, result)
    print(format_table(result))
    print(f"wrote {output}")
    return result


if __name__ == "__main__":
    # Before TensorFlow is imported: hide the per-step grappler noise (see shared NOTES).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    main()
