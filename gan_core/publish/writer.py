"""The publish transaction: encode, shard, stage, fsync, rename into place, then move LATEST.

See :mod:`gan_core.publish` for the layout of a published dataset.

Rows arrive as streams of blocks (:class:`RowStream`); each block is encoded and each shard
written as soon as it fills (:mod:`gan_core.publish.shards`), so memory holds one shard, not the
version. A version directory is built in a hidden sibling (:mod:`gan_core.publish.contents`:
shards, the dataset card, the manifest), fsynced and renamed into place, so readers see a whole
version or none. Versions are never overwritten or edited; a new publish gets
``max(existing) + 1``. ``output_root`` may also be an ``s3://bucket/prefix`` URL: then the
version is uploaded in place, manifest last, under a number claimed with a conditional PUT
(:mod:`gan_core.publish.remote`). Every row follows one schema (``arrow_schema``), and the Hugging Face
``datasets`` features ride along in the schema metadata, so ``datasets.load_dataset("parquet",
...)`` decodes ``image`` to PIL images and ``label`` to a ``ClassLabel`` with its names.
"""

from __future__ import annotations

import errno
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

import gan_core
from gan_core.config import _DATASET_NAME_PATTERN
from gan_core.imaging import as_4d
from gan_core.io.faults import fault_point
from gan_core.io import store
from gan_core.io.fsutil import staged_directory
from gan_core.io.store import Target
from gan_core.publish.contents import write_contents
from gan_core.publish.manifest import check_manifest_fields, git_commit
from gan_core.publish.remote import publish_remote
from gan_core.publish.rows import (
    Rows,
    RowStream,
    assign_sample_ids,
    check_class_names,
    check_image_shape,
    check_part,
)
from gan_core.publish.schema import COMPRESSION, SCHEMA_VERSION, PublishError, arrow_schema
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
# The free-space check runs before any row is encoded, so it estimates: a 28x28 PNG of noise is
# ~860 bytes, a digit ~300, plus the ids and a little Parquet overhead.
# A row's PNG plus its other columns, per pixel value and fixed (a 28x28 digit row takes ~0.3 kB).
_ESTIMATED_BYTES_PER_VALUE = 1.0
_ESTIMATED_ROW_OVERHEAD = 256
_SPACE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file size limit is exceeded (see `ulimit -f`)",
}


@dataclass(frozen=True)
class PublishedVersion:
    """Result of ``publish_version``: where the version lives (a Path, or a URL) and what its manifest says."""

    path: Target
    version: int
    manifest: dict


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


def _claim_and_write(dataset_dir: Path, write, head: dict, needed: int) -> tuple[Path, int, dict]:
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
                manifest = write(staging, head)
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


def _check_common(
    dataset_name: str, rows_per_shard: int, class_names, manifest_fields: dict, rows: list, what: str
) -> tuple[list, dict]:
    if not isinstance(dataset_name, str) or not _DATASET_NAME_PATTERN.match(dataset_name):
        raise ValueError(
            f"dataset_name {dataset_name!r} is not allowed: use 1-64 lowercase letters, digits, '-' "
            "or '_', starting with a letter or digit (it becomes a directory name)"
        )
    if isinstance(rows_per_shard, bool) or not isinstance(rows_per_shard, int) or rows_per_shard < 1:
        raise ValueError(f"rows_per_shard must be a positive integer, got {rows_per_shard!r}")
    if not isinstance(rows, (list, tuple)) or not rows:
        kind = "Rows block" if what == "parts" else "RowStream"
        raise ValueError(f"{what} is empty: pass at least one {kind} to publish")
    return check_class_names(class_names), check_manifest_fields(manifest_fields)


def publish_version(
    output_root: Target,
    dataset_name: str,
    parts: list[Rows],
    class_names: Sequence[str],
    manifest_fields: dict,
    rows_per_shard: int = 10_000,
    image_shape: Sequence[int] | None = None,
) -> PublishedVersion:
    """Publishes ``parts`` (rows in memory) as the next version of ``dataset_name`` and moves LATEST to it.

    Every input is validated before anything touches the disk; then it is published as
    :func:`publish_streams` publishes, one block per part.

    Args:
        output_root: Directory holding one subdirectory per dataset, or an ``s3://bucket/prefix`` URL.
        dataset_name: Dataset directory name (lowercase letters, digits, '-', '_').
        parts: Row blocks; parts with the same split share that split's shards, in order.
        class_names: Name of each label index; stored as the HF ClassLabel names.
        manifest_fields: Extra JSON-serializable manifest entries (provenance, parameters,
            metrics); must not use ``RESERVED_MANIFEST_KEYS``.
        rows_per_shard: Maximum rows per Parquet file.
        image_shape: (H, W, C) every image must have; None takes the first part's.

    Returns:
        The new version's path, number and manifest (as written).

    Raises:
        ValueError: Invalid input; nothing was written.
        PublishError: Out of disk space (or no free version number); nothing was published.
    """
    names, extra_fields = _check_common(dataset_name, rows_per_shard, class_names, manifest_fields, parts, "parts")
    shape = check_image_shape(image_shape if image_shape is not None else _first_shape(parts))
    checked = assign_sample_ids([check_part(i, part, len(names), shape) for i, part in enumerate(parts)])
    streams = [RowStream(part.source, part.split, len(part.labels), lambda part=part: [part]) for part in checked]
    return _publish(output_root, dataset_name, streams, True, names, shape, extra_fields, rows_per_shard)


def _first_shape(parts: list) -> tuple[int, ...]:
    first = parts[0]
    if not isinstance(first, Rows):
        raise ValueError(f"parts[0] must be a gan_core.publish.Rows, got {type(first).__name__}")
    return as_4d(first.images).shape[1:]


def publish_streams(
    output_root: Target,
    dataset_name: str,
    streams: list[RowStream],
    class_names: Sequence[str],
    manifest_fields: dict,
    rows_per_shard: int = 10_000,
    *,
    image_shape: Sequence[int],
) -> PublishedVersion:
    """Publishes rows that arrive in blocks, holding one shard at a time, and moves LATEST to the new version.

    Each block is checked as it arrives; a bad block, a stream that brings more or fewer rows
    than it announced, or any failure leaves no new version and LATEST unchanged.

    Args:
        output_root: Directory holding one subdirectory per dataset, or an ``s3://bucket/prefix`` URL.
        dataset_name: Dataset directory name (lowercase letters, digits, '-', '_').
        streams: One :class:`RowStream` per source and split; streams of one split share its
            shards, in order. Their blocks leave ``sample_ids`` None (numbered automatically).
        class_names: Name of each label index; stored as the HF ClassLabel names.
        manifest_fields: Extra JSON-serializable manifest entries; not ``RESERVED_MANIFEST_KEYS``.
        rows_per_shard: Maximum rows per Parquet file.
        image_shape: (H, W, C) every image must have: a grayscale (C=1) or RGB (C=3) square.

    Raises:
        ValueError: Invalid input; nothing was published.
        PublishError: Out of disk space (or no free version number); nothing was published.
    """
    names, extra_fields = _check_common(dataset_name, rows_per_shard, class_names, manifest_fields, streams, "streams")
    shape = check_image_shape(image_shape)
    for index, stream in enumerate(streams):
        if not isinstance(stream, RowStream) or isinstance(stream.num_rows, bool) or stream.num_rows < 0:
            raise ValueError(f"streams[{index}] must be a RowStream with a row count >= 0, got {stream!r}")
    return _publish(output_root, dataset_name, list(streams), False, names, shape, extra_fields, rows_per_shard)


def _publish(
    output_root: Target,
    dataset_name: str,
    streams: list[RowStream],
    prechecked: bool,
    names: list[str],
    image_shape: tuple[int, int, int],
    extra_fields: dict,
    rows_per_shard: int,
) -> PublishedVersion:
    total = sum(stream.num_rows for stream in streams)
    if total == 0:
        raise ValueError("every part has zero rows; there is nothing to publish")
    row_bytes = int(_ESTIMATED_BYTES_PER_VALUE * np.prod(image_shape)) + _ESTIMATED_ROW_OVERHEAD
    needed = total * row_bytes
    dataset_dir = store.join(store.as_target(output_root, "output_root"), dataset_name)
    if not store.is_remote(dataset_dir):
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
        "image_shape": list(image_shape),
        "image_format": "png",
        "compression": COMPRESSION,
        "rows_per_shard": rows_per_shard,
        "arrow_schema": arrow_schema(names).to_string(show_schema_metadata=False),
        **extra_fields,
    }

    def write(staging: Target, head: dict) -> dict:
        return write_contents(staging, streams, prechecked, names, image_shape, rows_per_shard, head)

    if store.is_remote(dataset_dir):
        final, version, manifest = publish_remote(
            dataset_dir, write, head, lambda: fault_point("publish.before_latest")
        )
    else:
        # One publisher at a time per dataset: the number, the rename and LATEST move together.
        with dataset_lock(dataset_dir):
            remove_stale_staging(dataset_dir)
            final, version, manifest = _claim_and_write(dataset_dir, write, head, needed)
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
