"""Prefect wrapper for publishing: versioned Parquet shards, a verified manifest and a link artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact

from gan_core import data, publish
from gan_core.config import PublishConfig


def _real_rows(splits: data.LabeledSplits) -> list[publish.Rows]:
    return [
        publish.Rows(splits.train_images, splits.train_labels, source="real", split="train"),
        publish.Rows(splits.test_images, splits.test_labels, source="real", split="test"),
    ]


@task(name="publish", retries=0)
def publish_task(snapshot_dir: str, samples_path: str, config: PublishConfig, manifest_fields: dict) -> dict:
    """Publishes the accepted synthetic samples (and the real rows if asked) as a new version."""
    logger = get_run_logger()
    _, splits = data.load_snapshot(Path(snapshot_dir))
    with np.load(samples_path) as samples:
        accepted = samples["accepted"]
        synthetic = publish.Rows(
            images=samples["images"][accepted],
            labels=samples["labels"][accepted].astype(np.int64),
            source="synthetic",
            split="train",
            judge_confidence=samples["confidence"][accepted].astype(np.float32),
            generator_version=str(manifest_fields["generator_hash"])[:16],
        )
    parts = [synthetic, *(_real_rows(splits) if config.include_real else [])]
    published = publish.publish_version(
        config.output_root, config.dataset_name, parts, splits.class_names, manifest_fields,
        rows_per_shard=config.rows_per_shard,
    )
    summary = publish.verify(published.path)
    logger.info(
        "published %s (version %d): %s rows per split, %d shards, verified",
        published.path, published.version, summary["rows_per_split"], summary["shards"],
    )
    create_link_artifact(
        key="published-dataset",
        link=published.path.resolve().as_uri(),
        link_text=f"{config.dataset_name} v{published.version:04d}",
        description=f"Published {summary['rows']} rows: {summary['rows_per_split']}",
    )
    return {
        "version_dir": str(published.path.resolve()),
        "version": published.version,
        "rows": summary["rows"],
        "rows_per_split": summary["rows_per_split"],
        "rows_per_label": published.manifest["rows_per_label"],
        "rows_per_source": published.manifest["rows_per_source"],
    }
