"""Prefect wrapper for publishing: versioned Parquet shards, a verified manifest and a link artifact."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact

from gan_core.config import PublishConfig
from gan_core.io.store import is_remote
from gan_core.publish.stage import PublishOutcome, publish_stage


@task(name="publish", retries=0)
def publish_task(
    snapshot_dir: str, accepted_path: str, config: PublishConfig, generator_hash: str, manifest_fields: dict
) -> PublishOutcome:
    """Publishes the staged accepted samples (and the real rows if asked) as a new version with its dataset card."""
    outcome = publish_stage(snapshot_dir, accepted_path, config, generator_hash, manifest_fields, get_run_logger())
    create_link_artifact(
        key="published-dataset",
        link=outcome.version_dir if is_remote(outcome.version_dir) else Path(outcome.version_dir).as_uri(),
        link_text=f"{config.dataset_name} v{outcome.version:04d}",
        description=f"Published {outcome.rows} rows: {outcome.rows_per_split}",
    )
    return outcome
