"""Prefect wrapper for GAN training: a progress artifact, logs, and resume on retry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from gan_core.config import EXTENDABLE_TRAIN_FIELDS, ModelConfig, TrainConfig


def run_key(snapshot_fingerprint: str, model_config: ModelConfig, train_config: TrainConfig) -> str:
    """Names a training run by its data and settings; the step budget and the logging/checkpoint
    cadence are left out, so a longer run extends a shorter one."""
    settings = {"model": model_config.resolved(), "train": train_config.resolved()}
    for field in EXTENDABLE_TRAIN_FIELDS:
        settings["train"].pop(field)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return f"{snapshot_fingerprint[:12]}-{digest}"


# Retrying resumes from the last checkpoint instead of starting over. The tag carries the
# "one training run at a time" limit: `prefect concurrency-limit create gan-training 1`.
@task(name="train-gan", retries=1, retry_delay_seconds=10, tags=["gan-training"])
def train_task(snapshot_dir: str, model_config: ModelConfig, train_config: TrainConfig, runs_root: str) -> dict:
    """Trains (or resumes) the conditional GAN on a snapshot; returns paths and the history."""
    from gan_core import data
    from gan_core.gan.train import train_gan

    logger = get_run_logger()
    snapshot, splits = data.load_snapshot(Path(snapshot_dir))
    run_dir = Path(runs_root) / run_key(snapshot.fingerprint, model_config, train_config)
    logger.info(
        "training on %d real images for %d steps (batch %d, precision %s) in %s",
        len(splits.train_labels), train_config.steps, train_config.batch_size, train_config.precision, run_dir,
    )
    progress_id = create_progress_artifact(
        progress=0.0, key="gan-training-progress", description="GAN training: share of steps done"
    )

    def on_progress(stats) -> None:
        logger.info(
            "step %d/%d: D loss %.4f, G loss %.4f, %.0f img/s, %.1f s elapsed",
            stats.step, stats.steps, stats.discriminator_loss, stats.generator_loss,
            stats.images_per_second, stats.elapsed_seconds,
        )
        update_progress_artifact(progress_id, progress=100.0 * stats.step / stats.steps)

    result = train_gan(
        splits.train_images, splits.train_labels, model_config, train_config, run_dir,
        class_names=splits.class_names, on_progress=on_progress,
    )
    update_progress_artifact(progress_id, progress=100.0)
    if result.resumed_from_step:
        logger.info("resumed from step %d", result.resumed_from_step)
    trained_steps = sum(row.interval_steps for row in result.history)
    train_seconds = result.history[-1].elapsed_seconds if result.history else 0.0
    return {
        "run_dir": str(result.run_dir),
        "generator_dir": str(result.generator_dir),
        "generator_hash": result.generator_hash,
        "dtype_policy": result.dtype_policy,
        "resumed_from_step": result.resumed_from_step,
        "history": [row.__dict__ for row in result.history],
        # Whole-run rate, checkpoints and logs included: what the budget actually buys.
        "images_per_second": trained_steps * train_config.batch_size / train_seconds if train_seconds else None,
        "train_seconds": train_seconds,
    }
