"""Prefect wrapper for the quality check: judge, metrics, per-sample rejection and the gate report."""

from __future__ import annotations

import json

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact


@task(name="quality-check", retries=0)
def quality_task(
    snapshot_dir: str,
    generator_dir: str,
    judge_config,
    quality_config,
    cache_root: str,
    run_dir: str,
    training_history: list[dict],
    teacher_dir: str | None = None,
    pseudo_path: str | None = None,
):
    """Generates samples, scores them with the judge and applies the gate; returns a ``QualityOutcome``.

    With ``teacher_dir`` and ``pseudo_path`` (label-scarce mode) the teacher rejects and the
    second judge, trained on the true labels alone, checks the labels.
    """
    from gan_core.quality.stage import quality_stage  # TensorFlow: imported when the task runs

    logger = get_run_logger()
    outcome = quality_stage(
        snapshot_dir,
        generator_dir,
        judge_config,
        quality_config,
        cache_root,
        run_dir,
        training_history,
        logger,
        teacher_dir,
        pseudo_path,
    )
    report_quality(outcome, logger)
    return outcome


def report_quality(outcome, logger) -> None:
    """Writes the quality report and per-class table artifacts and logs the verdict and each failure."""
    create_markdown_artifact(key="quality-report", markdown=outcome.markdown, description="GAN sample quality and gate")
    create_table_artifact(
        key="per-class-quality", table=outcome.per_class, description="Per-class generation and rejection"
    )
    verdict = "PASSED" if outcome.passed else "FAILED"
    metrics = {k: None if v is None else round(v, 4) for k, v in outcome.metrics.items()}
    logger.info("quality gate %s: %s", verdict, json.dumps(metrics))
    for line in outcome.failures:
        logger.error("gate: %s", line)
