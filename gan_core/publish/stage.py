"""The publish stage: accepted samples (and the real rows if asked) in, a verified version out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_core.config import PublishConfig
from gan_core.data.snapshot import load_snapshot
from gan_core.data.splits import LabeledSplits
from gan_core.publish.rows import Rows
from gan_core.publish.verify import verify
from gan_core.publish.writer import publish_version


@dataclass(frozen=True)
class PublishOutcome:
    """The published, verified version, as plain serialisable values."""

    version_dir: str
    version: int
    rows: int
    shards: int
    rows_per_split: dict
    rows_per_label: dict
    rows_per_source: dict


def _real_rows(splits: LabeledSplits) -> list[Rows]:
    return [
        Rows(splits.train_images, splits.train_labels, source="real", split="train"),
        Rows(splits.test_images, splits.test_labels, source="real", split="test"),
    ]


def publish_stage(
    snapshot_dir: str,
    samples_path: str,
    config: PublishConfig,
    generator_hash: str,
    manifest_fields: dict,
    logger: logging.Logger | logging.LoggerAdapter,
) -> PublishOutcome:
    """Publishes the accepted samples of ``samples_path`` as a new version, then verifies it."""
    _, splits = load_snapshot(Path(snapshot_dir))
    with np.load(samples_path) as samples:
        accepted = samples["accepted"]
        synthetic = Rows(
            images=samples["images"][accepted],
            labels=samples["labels"][accepted].astype(np.int64),
            source="synthetic",
            split="train",
            judge_confidence=samples["confidence"][accepted].astype(np.float32),
            generator_version=generator_hash[:16],
        )
    parts = [synthetic, *(_real_rows(splits) if config.include_real else [])]
    published = publish_version(
        config.output_root,
        config.dataset_name,
        parts,
        splits.class_names,
        manifest_fields,
        rows_per_shard=config.rows_per_shard,
    )
    summary = verify(published.path)
    logger.info(
        "published %s (version %d): %s rows per split, %d shards, verified",
        published.path,
        published.version,
        summary["rows_per_split"],
        summary["shards"],
    )
    return PublishOutcome(
        version_dir=str(published.path.resolve()),
        version=published.version,
        rows=summary["rows"],
        shards=summary["shards"],
        rows_per_split=summary["rows_per_split"],
        rows_per_label=published.manifest["rows_per_label"],
        rows_per_source=published.manifest["rows_per_source"],
    )
