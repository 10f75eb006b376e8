"""Prefect wrapper for the pseudo-label stage of label-scarce mode (teacher on labeled + pool)."""

from __future__ import annotations

from prefect import get_run_logger, task

from gan_core.config import PseudoLabelConfig


# No Prefect cache: the stage's output directory is content-addressed on the snapshot and the
# settings, so a second run with the same inputs reuses it without training again.
@task(name="pseudo-label", retries=0)
def pseudo_label_task(snapshot_dir: str, config: PseudoLabelConfig, seed: int, cache_root: str):
    """Trains the teacher and pseudo-labels the pool; returns a ``PseudoLabelOutcome``."""
    from gan_core.semisup.stage import pseudo_label_stage  # TensorFlow: imported when the task runs

    logger = get_run_logger()
    outcome = pseudo_label_stage(snapshot_dir, config, seed, cache_root, logger)
    logger.info(
        "teacher real-test accuracy %.4f; %d of %d pool images pseudo-labelled at confidence >= %.3f",
        outcome.teacher_test_accuracy,
        outcome.count,
        outcome.pool_count,
        outcome.min_confidence,
    )
    return outcome
