"""Prefect wrapper for ingest: cached across flow runs, and refreshed when its snapshot is gone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from prefect import get_run_logger, task
from prefect.context import TaskRunContext

from gan_core import data
from gan_core.config import DataConfig
from gan_core.io.fsutil import atomic_write_json

_INDEX_DIR = "ingest-index"


def _inputs_key(config: DataConfig, cache_root: Path) -> str:
    # 'auto' is keyed on what it would read today, so preparing full MNIST invalidates a
    # cached bundled-sample snapshot instead of serving it forever.
    payload = {"config": config.resolved(), "resolves_to": data.describe_source(config), "cache_root": str(cache_root)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def ingest_cache_key(context: TaskRunContext, parameters: dict) -> str:
    """Cache key: the data config, what 'auto' resolves to now, and this task's source code."""
    source = hashlib.sha256(context.task.fn.__code__.co_code).hexdigest()[:12]
    return f"ingest-{_inputs_key(parameters['config'], Path(parameters['cache_root']))}-{source}"


def _index_path(config: DataConfig, cache_root: Path) -> Path:
    return Path(cache_root) / _INDEX_DIR / f"{_inputs_key(config, Path(cache_root))}.json"


def cached_snapshot_present(config: DataConfig, cache_root: Path) -> bool:
    """Whether the snapshot a cached ingest result points at still exists on disk."""
    index = _index_path(config, cache_root)
    if not index.exists():
        # No index: either never ingested, or the cache root was wiped while Prefect still
        # holds a result pointing into it. Refreshing is right in both cases.
        return False
    snapshot_dir = Path(json.loads(index.read_text())["snapshot"])
    return (snapshot_dir / "meta.json").exists()


@task(name="ingest", cache_key_fn=ingest_cache_key, persist_result=True, retries=1, retry_delay_seconds=5)
def ingest_task(config: DataConfig, cache_root: str) -> str:
    """Loads the real data into a fingerprinted snapshot; returns the snapshot directory."""
    logger = get_run_logger()
    snapshot = data.ingest(config, Path(cache_root))
    atomic_write_json(_index_path(config, Path(cache_root)), {"snapshot": str(snapshot.path.resolve())})
    logger.info(
        "snapshot %s from %s: %d train / %d test images (fingerprint %s)",
        snapshot.path, snapshot.source_used, snapshot.counts["train"]["total"],
        snapshot.counts["test"]["total"], snapshot.fingerprint[:16],
    )
    if config.source == "auto" and snapshot.source_used.startswith("sample"):
        logger.warning(
            "source 'auto' fell back to the bundled 8k/2k MNIST sample (no prepared tfds mnist and no network)"
        )
    return str(snapshot.path.resolve())


def run_ingest(config: DataConfig, cache_root: Path) -> str:
    """Runs the ingest task, bypassing the cache when the cached snapshot was deleted."""
    fresh = not cached_snapshot_present(config, cache_root)
    return ingest_task.with_options(refresh_cache=fresh)(config, str(cache_root))
