"""The publish stage: staged accepted samples (and the real rows if asked) in, a verified version out.

The accepted rows are read from the quality stage's staging file in batches of
``rows_per_shard`` and written into shards as they fill, so memory does not grow with them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gan_core.config import PublishConfig
from gan_core.data.snapshot import load_snapshot
from gan_core.data.splits import LabeledSplits
from gan_core.io.store import is_remote
from gan_core.publish.rows import Rows, RowStream
from gan_core.publish.verify import verify
from gan_core.publish.writer import publish_streams
from gan_core.quality.staging import iter_staged, staged_rows


@dataclass(frozen=True)
class PublishOutcome:
    """The published, verified version, as plain serialisable values."""

    version_dir: str  # an absolute local path, or the version's s3:// URL
    version: int
    rows: int
    shards: int
    rows_per_split: dict
    rows_per_label: dict
    rows_per_source: dict


def _real_rows(splits: LabeledSplits) -> list[RowStream]:
    # The real splits are the ingested snapshot, already in memory and not grown by sampling.
    return [
        RowStream("real", split, len(labels), lambda images=images, labels=labels, split=split: [
            Rows(images, labels, source="real", split=split)
        ])
        for split, images, labels in (
            ("train", splits.train_images, splits.train_labels),
            ("test", splits.test_images, splits.test_labels),
        )
    ]  # fmt: skip


def _synthetic_rows(accepted_path: str, generator_hash: str, batch_rows: int) -> RowStream:
    def blocks():
        for images, labels, confidences in iter_staged(Path(accepted_path), batch_rows):
            yield Rows(
                images=images,
                labels=labels,
                source="synthetic",
                split="train",
                judge_confidence=confidences,
                generator_version=generator_hash[:16],
            )

    return RowStream("synthetic", "train", staged_rows(Path(accepted_path)), blocks)


def publish_stage(
    snapshot_dir: str,
    accepted_path: str,
    config: PublishConfig,
    generator_hash: str,
    manifest_fields: dict,
    logger: logging.Logger | logging.LoggerAdapter,
) -> PublishOutcome:
    """Publishes the accepted samples staged at ``accepted_path`` as a new version, then verifies it."""
    _, splits = load_snapshot(Path(snapshot_dir))
    streams = [_synthetic_rows(accepted_path, generator_hash, config.rows_per_shard)]
    published = publish_streams(
        config.output_root,
        config.dataset_name,
        streams + (_real_rows(splits) if config.include_real else []),
        splits.class_names,
        manifest_fields,
        rows_per_shard=config.rows_per_shard,
        image_shape=splits.image_shape,
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
        version_dir=published.path if is_remote(published.path) else str(published.path.resolve()),
        version=published.version,
        rows=summary["rows"],
        shards=summary["shards"],
        rows_per_split=summary["rows_per_split"],
        rows_per_label=published.manifest["rows_per_label"],
        rows_per_source=published.manifest["rows_per_source"],
    )
