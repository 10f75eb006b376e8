"""Re-checks a published version (a local directory or an ``s3://`` URL) against its manifest."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from gan_core.io import store
from gan_core.io.store import Target
from gan_core.publish.manifest import MANIFEST_DIGEST_KEY, manifest_digest, read_manifest
from gan_core.publish.schema import MANIFEST_FILE, PublishError


def _check_file(version_dir: Target, entry: dict, what: str, fix: str) -> Target:
    """Checks one listed file's path, presence, size and sha256; returns its path."""
    relative = entry["path"]
    if not isinstance(relative, str) or relative.startswith("/") or ".." in relative.split("/"):
        raise PublishError(f"{what} path {relative!r} in the manifest points outside {version_dir}; {fix}")
    path = store.join(version_dir, *relative.split("/"))
    if not store.is_file(path):
        raise PublishError(f"{what} {relative} is missing from {version_dir}; {fix}")
    size = store.size(path)
    if size != entry["bytes"]:
        raise PublishError(
            f"{what} {relative} has {size} bytes, the manifest says {entry['bytes']}; it is corrupt, {fix}"
        )
    if store.sha256(path) != entry["sha256"]:
        raise PublishError(f"{what} {relative} does not match its sha256 in the manifest; it is corrupt, {fix}")
    return path


def verify(version_dir: Target) -> dict:
    """Checks a published version against its manifest: sizes, sha256, row counts, file set.

    The shards, the dataset card (``README.md``) and its sample grid are each checked against
    their size and sha256 in the manifest; any other file fails.

    Returns:
        Summary: dataset_name, version, path, shards, rows, bytes, rows_per_split.

    Raises:
        PublishError: Naming the first bad shard (missing, wrong size/hash/row count, or an
            unexpected extra file).
    """
    version_dir = store.as_target(version_dir)
    manifest = read_manifest(version_dir)
    fix = (
        f"restore {store.name_of(version_dir)} from a backup or publish the data again as a new version "
        "(published versions are never edited in place)"
    )
    recorded = manifest.get(MANIFEST_DIGEST_KEY)
    if recorded is not None and recorded != manifest_digest(manifest):
        raise PublishError(
            f"{store.join(version_dir, MANIFEST_FILE)} was edited after publishing (its content no longer matches "
            f"its {MANIFEST_DIGEST_KEY}); {fix}"
        )
    try:
        shards = list(manifest["shards"])
        expected_split_rows = dict(manifest["rows_per_split"])
    except (KeyError, TypeError) as exc:
        raise PublishError(
            f"{store.join(version_dir, MANIFEST_FILE)} lacks 'shards' or 'rows_per_split'; {fix}"
        ) from exc
    listed: set[str] = set()
    split_rows: Counter = Counter()
    total_bytes = 0
    for shard in shards:
        path = _check_file(version_dir, shard, "shard", fix)
        listed.add(shard["path"])
        try:
            # Only the footer is read: on an object store, a few small range requests.
            with store.open_file(path) as handle:
                rows = pq.ParquetFile(handle).metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise PublishError(f"shard {shard['path']} is not readable Parquet ({exc}); {fix}") from exc
        if rows != shard["rows"]:
            raise PublishError(f"shard {shard['path']} has {rows} rows, the manifest says {shard['rows']}; {fix}")
        split_rows[shard["split"]] += rows
        total_bytes += shard["bytes"]
    # The dataset card and its sample grid; versions published before cards existed list none.
    for entry in manifest.get("files", []):
        _check_file(version_dir, entry, "file", fix)
        listed.add(entry["path"])
    # Anything but the manifest and its shards is foreign, in data/ or beside the manifest.
    present = set(store.find_files(version_dir))
    present.discard(MANIFEST_FILE)
    extra = sorted(present - listed)
    if extra:
        raise PublishError(
            f"{extra[0]} in {version_dir} is not listed in the manifest; remove it (versions hold "
            "only their published shards, card and sample grid) or " + fix
        )
    if dict(split_rows) != expected_split_rows:
        raise PublishError(
            f"shard row counts per split {dict(split_rows)} do not add up to the manifest's "
            f"rows_per_split {expected_split_rows}; {fix}"
        )
    return {
        "dataset_name": manifest.get("dataset_name"),
        "version": manifest.get("version"),
        "path": str(version_dir),
        "shards": len(shards),
        "rows": sum(split_rows.values()),
        "bytes": total_bytes,
        "rows_per_split": dict(split_rows),
    }
