"""The publish transaction: encode, shard, stage, fsync, rename into place, then move LATEST.

See :mod:`gan_core.publish` for the layout of a published dataset.

A version directory is built in a hidden sibling and renamed into place, so readers see a
whole version or none. Versions are never overwritten or edited; a new publish gets
``max(existing) + 1``. Every row follows one schema (``arrow_schema``), and the Hugging Face
``datasets`` features ride along in the schema metadata, so ``datasets.load_dataset("parquet",
...)`` decodes ``image`` to PIL images and ``label`` to a ``ClassLabel`` with its names.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import gan_core
from gan_core.config import _DATASET_NAME_PATTERN
from gan_core.imaging import encode_pngs
from gan_core.io.faults import fault_point
from gan_core.io.fsutil import staged_directory
from gan_core.io.hashing import sha256_file
from gan_core.publish.manifest import MANIFEST_DIGEST_KEY, check_manifest_fields, dump_json, git_commit, manifest_digest
from gan_core.publish.rows import CheckedPart, Rows, assign_sample_ids, check_class_names, check_part
from gan_core.publish.schema import COMPRESSION, DATA_DIR, IMAGE_SHAPE, MANIFEST_FILE, SCHEMA_VERSION, SOURCES, PublishError, arrow_schema
from gan_core.publish.versions import (
    dataset_lock,
    list_versions,
    point_latest,
    read_latest,
    remove_stale_staging,
    version_name,
)

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules

# A concurrent publisher can claim the number we picked; try the next ones, but not forever.


_MAX_VERSION_ATTEMPTS = 10
_SPACE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file size limit is exceeded (see `ulimit -f`)",
}


@dataclass(frozen=True)
class PublishedVersion:
    """Result of ``publish_version``: where the version lives and what its manifest says."""

    path: Path
    version: int
    manifest: dict


def _part_table(part: CheckedPart, schema: pa.Schema) -> pa.Table:
    count = len(part.labels)
    image = pa.StructArray.from_arrays(
        [
            pa.array(encode_pngs(part.images), type=pa.binary()),
            pa.array([f"{sample_id}.png" for sample_id in part.sample_ids], type=pa.string()),
        ],
        fields=list(schema.field("image").type),
    )
    confidence = (
        pa.nulls(count, pa.float32())
        if part.judge_confidence is None
        else pa.array(part.judge_confidence, type=pa.float32())
    )
    return pa.Table.from_arrays(
        [
            image,
            pa.array(part.labels, type=pa.int64()),
            pa.array([part.source] * count, type=pa.string()),
            pa.array([part.split] * count, type=pa.string()),
            pa.array(part.sample_ids, type=pa.string()),
            confidence,
            pa.array([part.generator_version] * count, type=pa.string()),
        ],
        schema=schema,
    )


def _split_tables(parts: list[CheckedPart], schema: pa.Schema) -> dict[str, pa.Table]:
    by_split: dict[str, list[pa.Table]] = {}
    for part in parts:
        by_split.setdefault(part.split, []).append(_part_table(part, schema))
    return {split: pa.concat_tables(tables).combine_chunks() for split, tables in by_split.items()}


def _counts(parts: list[CheckedPart], class_names: list[str]) -> dict:
    per_split: Counter = Counter()
    per_source: Counter = Counter()
    per_label = np.zeros(len(class_names), dtype=np.int64)
    per_split_source: dict[str, Counter] = {}
    for part in parts:
        count = len(part.labels)
        per_split[part.split] += count
        per_source[part.source] += count
        per_split_source.setdefault(part.split, Counter())[part.source] += count
        per_label += np.bincount(part.labels, minlength=len(class_names))
    return {
        "num_rows": int(sum(per_split.values())),
        "rows_per_split": dict(sorted(per_split.items())),
        "rows_per_label": {name: int(n) for name, n in zip(class_names, per_label)},
        "rows_per_source": {source: per_source.get(source, 0) for source in SOURCES},
        "rows_per_split_source": {
            split: {source: counter.get(source, 0) for source in SOURCES}
            for split, counter in sorted(per_split_source.items())
        },
    }


def _write_version(
    staging: Path, tables: dict[str, pa.Table], rows_per_shard: int, manifest_head: dict
) -> dict:
    data_dir = staging / DATA_DIR
    data_dir.mkdir()
    shards = []
    for split in sorted(tables):
        table = tables[split]
        # An empty split still gets one (empty) shard so its schema and name stay visible.
        num_shards = max(1, math.ceil(table.num_rows / rows_per_shard))
        for index in range(num_shards):
            chunk = table.slice(index * rows_per_shard, rows_per_shard)
            relative = f"{DATA_DIR}/{split}-{index:05d}-of-{num_shards:05d}.parquet"
            path = staging / relative
            pq.write_table(chunk, path, compression=COMPRESSION)
            shards.append(
                {
                    "path": relative,
                    "split": split,
                    "rows": chunk.num_rows,
                    "bytes": path.stat().st_size,
                    "sha256": sha256_file(path),
                }
            )
            fault_point("publish.shard_written")
    manifest = {**manifest_head, "shards": shards}
    manifest[MANIFEST_DIGEST_KEY] = manifest_digest(manifest)
    text = dump_json(manifest)
    (staging / MANIFEST_FILE).write_text(text)
    fault_point("publish.staged")
    return json.loads(text)


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _space_error(exc: OSError, target: Path, needed: int) -> PublishError:
    try:
        free = f"{shutil.disk_usage(_existing_ancestor(target)).free:,} bytes are free"
    except OSError:
        free = "free space is unknown"
    return PublishError(
        f"{_SPACE_ERRNOS[exc.errno]} while publishing to {target}: the version needs about "
        f"{needed:,} bytes and {free}. Nothing was published (the partial version was removed "
        "and LATEST is unchanged); free some space or choose another output_root, then publish again"
    )


def _claim_and_write(
    dataset_dir: Path, tables: dict[str, pa.Table], rows_per_shard: int, head: dict, needed: int
) -> tuple[Path, int, dict]:
    """Stages the version under the next free number and renames it into place."""
    version = 0
    for _ in range(_MAX_VERSION_ATTEMPTS):
        # Never reuse a number LATEST has pointed to, even if its directory was deleted, and
        # always move past a number that turned out to be taken.
        version = max(version, *list_versions(dataset_dir), read_latest(dataset_dir) or 0) + 1
        final = dataset_dir / version_name(version)
        head.update(
            version=version,
            version_name=final.name,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        try:
            with staged_directory(final) as staging:
                manifest = _write_version(staging, tables, rows_per_shard, head)
        except OSError as exc:
            # FileExistsError from staged_directory, or ENOTEMPTY from the rename: another
            # publisher (or a stray entry) took this name. Try the next number, never overwrite.
            taken = isinstance(exc, FileExistsError) or exc.errno in (errno.EEXIST, errno.ENOTEMPTY)
            if taken and final.exists():
                logger.warning("%s already exists; trying the next version number", final)
                continue
            if exc.errno in _SPACE_ERRNOS:
                raise _space_error(exc, dataset_dir, needed) from exc
            exc.add_note(f"nothing was published to {dataset_dir}")
            raise
        except Exception as exc:
            exc.add_note(f"nothing was published to {dataset_dir}")
            raise
        break
    else:
        raise PublishError(
            f"could not claim a new version number in {dataset_dir} after {_MAX_VERSION_ATTEMPTS} "
            "attempts (other publishers keep taking them); nothing was published, try again"
        )
    return final, version, manifest


def publish_version(
    output_root: Path,
    dataset_name: str,
    parts: list[Rows],
    class_names: Sequence[str],
    manifest_fields: dict,
    rows_per_shard: int = 10_000,
) -> PublishedVersion:
    """Publishes ``parts`` as the next version of ``dataset_name`` and moves LATEST to it.

    Every input is validated and every PNG encoded before anything touches the disk. The version
    is written into a hidden sibling directory, fsynced and renamed into place; LATEST is
    rewritten (atomically) only after that. A failure anywhere leaves no new version and LATEST
    unchanged.

    Args:
        output_root: Directory holding one subdirectory per dataset.
        dataset_name: Dataset directory name (lowercase letters, digits, '-', '_').
        parts: Row blocks; parts with the same split share that split's shards, in order.
        class_names: Name of each label index; stored as the HF ClassLabel names.
        manifest_fields: Extra JSON-serializable manifest entries (provenance, parameters,
            metrics); must not use ``RESERVED_MANIFEST_KEYS``.
        rows_per_shard: Maximum rows per Parquet file.

    Returns:
        The new version's path, number and manifest (as written).

    Raises:
        ValueError: Invalid input; nothing was written.
        PublishError: Out of disk space (or no free version number); nothing was published.
    """
    output_root = Path(output_root)
    if not isinstance(dataset_name, str) or not _DATASET_NAME_PATTERN.match(dataset_name):
        raise ValueError(
            f"dataset_name {dataset_name!r} is not allowed: use 1-64 lowercase letters, digits, '-' "
            "or '_', starting with a letter or digit (it becomes a directory name)"
        )
    if isinstance(rows_per_shard, bool) or not isinstance(rows_per_shard, int) or rows_per_shard < 1:
        raise ValueError(f"rows_per_shard must be a positive integer, got {rows_per_shard!r}")
    names = check_class_names(class_names)
    extra_fields = check_manifest_fields(manifest_fields)
    if not isinstance(parts, (list, tuple)) or not parts:
        raise ValueError("parts is empty: pass at least one Rows block to publish")
    checked = assign_sample_ids([check_part(i, part, len(names)) for i, part in enumerate(parts)])
    if sum(len(part.labels) for part in checked) == 0:
        raise ValueError("every part has zero rows; there is nothing to publish")

    schema = arrow_schema(names)
    tables = _split_tables(checked, schema)
    needed = sum(table.nbytes for table in tables.values())
    dataset_dir = output_root / dataset_name
    free = shutil.disk_usage(_existing_ancestor(dataset_dir)).free
    if free < needed:
        raise PublishError(
            f"the disk is full: publishing to {dataset_dir} needs about {needed:,} bytes but only "
            f"{free:,} are free. Nothing was published; free some space or choose another output_root"
        )

    head = {
        "schema_version": SCHEMA_VERSION,
        "dataset_name": dataset_name,
        "code_version": {"gan_core": gan_core.__version__, "git_commit": git_commit()},
        "class_names": names,
        "image_shape": list(IMAGE_SHAPE),
        "image_format": "png",
        "compression": COMPRESSION,
        "rows_per_shard": rows_per_shard,
        "arrow_schema": schema.to_string(show_schema_metadata=False),
        **_counts(checked, names),
        **extra_fields,
    }
    # One publisher at a time per dataset: the number, the rename and LATEST move together.
    with dataset_lock(dataset_dir):
        remove_stale_staging(dataset_dir)
        final, version, manifest = _claim_and_write(dataset_dir, tables, rows_per_shard, head, needed)
        fault_point("publish.before_latest")
        point_latest(dataset_dir, final, version)
    logger.info(
        "published %s: %d rows in %d shards (%s bytes)",
        final,
        manifest["num_rows"],
        len(manifest["shards"]),
        f"{sum(shard['bytes'] for shard in manifest['shards']):,}",
    )
    return PublishedVersion(path=final, version=version, manifest=manifest)
