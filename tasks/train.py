"""Prefect wrapper for GAN training: a progress artifact, logs, and resume on retry."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from gan_core.config import ModelConfig, TrainConfig


# Retrying resumes from the last checkpoint instead of starting over. The tag carries the
# "one training run at a time" limit: `prefect concurrency-limit create gan-training 1`.
@task(name="train-gan", retries=1, retry_delay_seconds=10, tags=["gan-training"])
def train_task(
    snapshot_dir: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    runs_root: str,
    pseudo_path: str | None = None,
):
    """Trains (or resumes) the conditional GAN on a snapshot (plus a pseudo-labelled pool); returns a ``TrainOutcome``."""
    from gan_core.gan.stage import train_stage  # TensorFlow: imported when the task runs

    logger = get_run_logger()
    progress_id = create_progress_artifact(
        progress=0.0, key="gan-training-progress", description="GAN training: share of steps done"
    )

    def on_progress(stats) -> None:
        logger.info(
            "step %d/%d: D loss %.4f, G loss %.4f, %.0f img/s, %.1f s elapsed",
            stats.step,
            stats.steps,
            stats.discriminator_loss,
            stats.generator_loss,
            stats.images_per_second,
            stats.elapsed_seconds,
        )
        done = stats.step / stats.steps
        if train_config.time_budget_seconds is not None:
            done = max(done, stats.elapsed_seconds / train_config.time_budget_seconds)
        update_progress_artifact(progress_id, progress=100.0 * min(done, 1.0))

    outcome = train_stage(snapshot_dir, model_config, train_config, runs_root, logger, on_progress, pseudo_path)
    update_progress_artifact(progress_id, progress=100.0)
    return outcome
