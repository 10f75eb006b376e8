"""Prefect wrapper for ingest: cached across flow runs, and refreshed when its snapshot is gone."""

from __future__ import annotations

import hashlib
from pathlib import Path

from prefect import get_run_logger, task
from prefect.context import TaskRunContext

from gan_core.config import DataConfig
from gan_core.data.stage import IngestOutcome, cached_snapshot_present, ingest_stage, inputs_key


def ingest_cache_key(context: TaskRunContext, parameters: dict) -> str:
    """Cache key: the data config, what 'auto' resolves to now, and this task's source code."""
    source = hashlib.sha256(context.task.fn.__code__.co_code).hexdigest()[:12]
    return f"ingest-{inputs_key(parameters['config'], Path(parameters['cache_root']))}-{source}"


@task(name="ingest", cache_key_fn=ingest_cache_key, persist_result=True, retries=1, retry_delay_seconds=5)
def ingest_task(config: DataConfig, cache_root: str) -> IngestOutcome:
    """Loads the real data into a fingerprinted snapshot; returns where it is and what it holds."""
    return ingest_stage(config, Path(cache_root), get_run_logger())


def run_ingest(config: DataConfig, cache_root: Path) -> IngestOutcome:
    """Runs the ingest task, bypassing the cache when the cached snapshot was deleted."""
    fresh = not cached_snapshot_present(config, cache_root)
    return ingest_task.with_options(refresh_cache=fresh)(config, str(cache_root))
