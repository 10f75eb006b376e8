"""The ingest stage: one step that writes the snapshot and its cache index, and a typed result."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from gan_core.config import DataConfig
from gan_core.data.snapshot import check_every_class_present, ingest
from gan_core.data.sources import describe_source, source_files_signature
from gan_core.data.unlabeled import source_signature
from gan_core.io.fsutil import atomic_write_json
from gan_core.io.hashing import payload_digest

INDEX_DIR = "ingest-index"


@dataclass(frozen=True)
class IngestOutcome:
    """What ingest wrote: the snapshot directory and what it holds (plain values, serialisable)."""

    snapshot_dir: str
    fingerprint: str
    source_used: str
    counts: dict
    image_shape: list[int]  # [H, W, C] of every image
    split: dict  # how train and test were told apart: method, test_split, test_fraction, seed
    # The label-scarce mode's unlabeled pool (images only): its pool.npz, or None without one.
    pool_path: str | None = None
    pool_count: int = 0


def inputs_key(config: DataConfig, cache_root: Path) -> str:
    """Keys an ingest on its config, what 'auto' resolves to today, and the cache root.

    'auto' is keyed on what it would read today, so preparing full MNIST invalidates a cached
    bundled-sample snapshot instead of serving it forever. File sources (``folder:``, ``parquet:``,
    ``idx:``) and an unlabeled source are keyed on their files' relative paths, sizes and mtimes
    too, read from a listing, not the images, so an edited folder re-ingests and an unchanged one
    reads no image again.
    """
    payload = {"config": config.resolved(), "resolves_to": describe_source(config), "cache_root": str(cache_root)}
    files = source_files_signature(config.source)
    if files is not None:
        payload["source_files"] = files
    if config.unlabeled_source is not None:
        payload["unlabeled_files"] = source_signature(config.unlabeled_source)
    return payload_digest(payload, 32)


def _index_path(config: DataConfig, cache_root: Path) -> Path:
    return Path(cache_root) / INDEX_DIR / f"{inputs_key(config, Path(cache_root))}.json"


def cached_snapshot_present(config: DataConfig, cache_root: Path) -> bool:
    """Whether the snapshot a cached ingest result points at still exists on disk."""
    index = _index_path(config, cache_root)
    if not index.exists():
        # No index: either never ingested, or the cache root was wiped while a cache still
        # holds a result pointing into it. Refreshing is right in both cases.
        return False
    snapshot_dir = Path(json.loads(index.read_text())["snapshot"])
    return (snapshot_dir / "meta.json").exists()


def ingest_stage(config: DataConfig, cache_root: Path, logger: logging.Logger | logging.LoggerAdapter) -> IngestOutcome:
    """Loads the real data into a fingerprinted snapshot under ``cache_root`` and indexes it.

    Raises:
        DataError: the data is unreadable, or lacks a class (``check_every_class_present``); in
            both cases nothing is written.
    """
    # Keyed before reading: files edited while ingest runs give the next run another key, not this snapshot.
    index = _index_path(config, Path(cache_root))
    snapshot = ingest(config, Path(cache_root))
    # ingest checks this before writing; a snapshot it reused may come from a plain write_snapshot.
    check_every_class_present(snapshot.counts, snapshot.source_used)
    atomic_write_json(index, {"snapshot": str(snapshot.path.resolve())})
    logger.info(
        "snapshot %s from %s: %d train / %d test images of %s, test split %s (fingerprint %s)",
        snapshot.path,
        snapshot.source_used,
        snapshot.counts["train"]["total"],
        snapshot.counts["test"]["total"],
        "x".join(map(str, snapshot.image_shape)),
        snapshot.split["method"],
        snapshot.fingerprint[:16],
    )
    if snapshot.pool is not None:
        logger.info(
            "unlabeled pool: %d images (%d from the train split, %d from %s), labels dropped",
            snapshot.pool["count"],
            snapshot.pool["from_train_split"],
            snapshot.pool["from_unlabeled_source"],
            snapshot.pool["unlabeled_source"] or "no unlabeled_source",
        )
    if config.source == "auto" and snapshot.source_used.startswith("sample"):
        logger.warning(
            "source 'auto' fell back to the bundled 8k/2k MNIST sample (no prepared tfds mnist and no network)"
        )
    return IngestOutcome(
        snapshot_dir=str(snapshot.path.resolve()),
        fingerprint=snapshot.fingerprint,
        source_used=snapshot.source_used,
        counts=snapshot.counts,
        image_shape=list(snapshot.image_shape),
        split=dict(snapshot.split),
        pool_path=None if snapshot.pool_path is None else str(snapshot.pool_path.resolve()),
        pool_count=0 if snapshot.pool is None else int(snapshot.pool["count"]),
    )
