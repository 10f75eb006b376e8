"""Versioned, atomic Parquet publishing of real and synthetic rows under one schema.

Layout of a published dataset::

    <output_root>/<dataset_name>/
        LATEST                      # "v0003\\n": the current version; readers open this
        v0001/
            manifest.json           # counts, shard hashes, schema, provenance
            data/train-00000-of-00002.parquet
            data/train-00001-of-00002.parquet
            data/test-00000-of-00001.parquet
        v0002/ ...

``latest`` always means "read LATEST" (``resolve_version(dataset_dir)``), never "the highest
``vNNNN`` directory": LATEST moves only after a version directory is complete and in place.

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
import os
import re
import shutil
import subprocess
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import gan_core
from gan_core.config import _DATASET_NAME_PATTERN
from gan_core.fsutil import atomic_write_bytes, sha256_file, staged_directory
from gan_core.imaging import encode_pngs

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
LATEST_FILE = "LATEST"
MANIFEST_FILE = "manifest.json"
DATA_DIR = "data"
IMAGE_SHAPE = (28, 28)
SOURCES = ("real", "synthetic")
COMPRESSION = "zstd"

# Keys publish_version writes itself; manifest_fields may not use them.
RESERVED_MANIFEST_KEYS = frozenset(
    {
        "schema_version",
        "dataset_name",
        "version",
        "version_name",
        "created_at",
        "code_version",
        "class_names",
        "image_shape",
        "image_format",
        "compression",
        "rows_per_shard",
        "num_rows",
        "rows_per_split",
        "rows_per_label",
        "rows_per_source",
        "rows_per_split_source",
        "shards",
        "arrow_schema",
    }
)

_VERSION_PATTERN = re.compile(r"^v(\d{4,})$")
_SPLIT_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,64}$")
# A concurrent publisher can claim the number we picked; try the next ones, but not forever.
_MAX_VERSION_ATTEMPTS = 10
_SPACE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file size limit is exceeded (see `ulimit -f`)",
}


class PublishError(RuntimeError):
    """A publish could not complete, or a published version failed verification."""


@dataclass(frozen=True)
class Rows:
    """One block of rows to publish: same source and split for every row.

    Attributes:
        images: (N, 28, 28) uint8 pixels ((N, 28, 28, 1) is accepted too).
        labels: (N,) integer class indices into ``class_names``.
        source: "real" or "synthetic".
        split: Split name, e.g. "train" or "test" (letters, digits, '_').
        sample_ids: N unique ids, or None to number them "<real|syn>-<split>-<index>".
        judge_confidence: (N,) floats in [0, 1] for synthetic rows, None for real rows.
        generator_version: Generator identifier for synthetic rows, None for real rows.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str
    split: str
    sample_ids: list[str] | None = None
    judge_confidence: np.ndarray | None = None
    generator_version: str | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class PublishedVersion:
    """Result of ``publish_version``: where the version lives and what its manifest says."""

    path: Path
    version: int
    manifest: dict


@dataclass(frozen=True)
class _CheckedPart:
    images: np.ndarray
    labels: np.ndarray
    source: str
    split: str
    sample_ids: list[str]
    judge_confidence: np.ndarray | None
    generator_version: str | None


def version_name(version: int) -> str:
    """Returns the directory name of a version number, e.g. 3 -> "v0003"."""
    return f"v{version:04d}"


def hf_features(class_names: Sequence[str]) -> dict:
    """Returns the Hugging Face ``datasets`` features dict (``Features.to_dict()`` layout)."""

    def value(dtype: str) -> dict:
        return {"dtype": dtype, "_type": "Value"}

    return {
        "image": {"_type": "Image"},
        "label": {"names": list(class_names), "_type": "ClassLabel"},
        "source": value("string"),
        "split": value("string"),
        "sample_id": value("string"),
        "judge_confidence": value("float32"),
        "generator_version": value("string"),
    }


def arrow_schema(class_names: Sequence[str]) -> pa.Schema:
    """Returns the one Arrow schema every shard uses, with HF features in its metadata."""
    image_type = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])
    fields = [
        pa.field("image", image_type),
        pa.field("label", pa.int64()),
        pa.field("source", pa.string()),
        pa.field("split", pa.string()),
        pa.field("sample_id", pa.string()),
        pa.field("judge_confidence", pa.float32()),
        pa.field("generator_version", pa.string()),
    ]
    # `datasets` reads features from this key (the layout `Dataset.to_parquet` writes).
    metadata = {b"huggingface": json.dumps({"info": {"features": hf_features(class_names)}}).encode()}
    return pa.schema(fields, metadata=metadata)


def list_versions(dataset_dir: Path) -> list[int]:
    """Returns the published version numbers in ``dataset_dir``, ascending ([] if none)."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        return []
    versions = []
    for entry in dataset_dir.iterdir():
        # Hidden staging directories (".v0003.tmp.<uuid>") do not match the pattern.
        match = _VERSION_PATTERN.match(entry.name)
        if match and entry.is_dir():
            versions.append(int(match.group(1)))
    return sorted(versions)


def _parse_version(version: str | int) -> int:
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise ValueError(f"version must be 'latest', an int or a 'v0003'-style name, got {version!r}")
    if isinstance(version, str):
        match = re.fullmatch(r"v?(\d+)", version.strip())
        if not match:
            raise ValueError(f"version {version!r} is not 'latest', a number or a 'v0003'-style name")
        version = int(match.group(1))
    if version < 1:
        raise ValueError(f"version numbers start at 1, got {version}")
    return version


def _read_latest(dataset_dir: Path) -> int | None:
    pointer = dataset_dir / LATEST_FILE
    if not pointer.is_file():
        return None
    text = pointer.read_text().strip()
    match = _VERSION_PATTERN.match(text)
    if not match:
        raise PublishError(
            f"{pointer} holds {text!r}, not a version name like 'v0003'; write the name of an "
            f"existing version directory into it (available: {list_versions(dataset_dir)})"
        )
    return int(match.group(1))


def resolve_version(dataset_dir: Path, version: str | int = "latest") -> Path:
    """Returns the directory of one published version.

    Args:
        dataset_dir: ``<output_root>/<dataset_name>``.
        version: "latest" (reads the LATEST file), a number (3) or a name ("v0003" or "3").

    Raises:
        FileNotFoundError: Nothing is published there, or that version does not exist.
        PublishError: LATEST exists but does not hold a version name.
    """
    dataset_dir = Path(dataset_dir)
    if version == "latest":
        number = _read_latest(dataset_dir)
        if number is None:
            raise FileNotFoundError(
                f"{dataset_dir / LATEST_FILE} does not exist, so nothing is published in "
                f"{dataset_dir} yet (version directories: {list_versions(dataset_dir)}); run "
                "publish_version first or pass an explicit version"
            )
    else:
        number = _parse_version(version)
    path = dataset_dir / version_name(number)
    if not (path / MANIFEST_FILE).is_file():
        raise FileNotFoundError(
            f"version {version_name(number)} is not published in {dataset_dir} "
            f"(available: {list_versions(dataset_dir)})"
        )
    return path


def read_manifest(version_dir: Path) -> dict:
    """Reads and sanity-checks ``<version_dir>/manifest.json``.

    Raises:
        FileNotFoundError: ``version_dir`` is not a published version.
        PublishError: The manifest is unreadable or from a newer schema.
    """
    path = Path(version_dir) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {version_dir} is not a published version directory "
            "(<output_root>/<dataset_name>/vNNNN); use resolve_version(dataset_dir) to pick one"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PublishError(f"{path} is not valid JSON ({exc}); restore it or re-publish") from exc
    schema_version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if not isinstance(schema_version, int):
        raise PublishError(f"{path} has no integer schema_version; it was not written by publish_version")
    if schema_version > SCHEMA_VERSION:
        raise PublishError(
            f"{path} uses manifest schema {schema_version}, newer than this gan_core "
            f"({SCHEMA_VERSION}); upgrade gan_core to read it"
        )
    return manifest


@lru_cache(maxsize=1)
def _git_commit() -> str | None:
    """Returns the git commit of the gan_core checkout, or None when that is not cheap to know."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _json_default(value: Any) -> Any:
    # Callers pass metrics straight from numpy; store them as plain JSON numbers and lists.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dump_json(payload: Any) -> str:
    return json.dumps(payload, indent=2, sort_keys=True, default=_json_default, allow_nan=False) + "\n"


def _check_manifest_fields(manifest_fields: dict) -> dict:
    if not isinstance(manifest_fields, dict):
        raise ValueError(f"manifest_fields must be a dict, got {type(manifest_fields).__name__}")
    bad_keys = [key for key in manifest_fields if not isinstance(key, str)]
    if bad_keys:
        raise ValueError(f"manifest_fields keys must be strings, got {bad_keys!r}")
    collisions = sorted(RESERVED_MANIFEST_KEYS.intersection(manifest_fields))
    if collisions:
        raise ValueError(
            f"manifest_fields uses reserved key(s) {collisions}; publish_version writes those itself, "
            "so rename them (e.g. nest them under your own key)"
        )
    try:
        # Round-trip now so a bad value fails before anything is written, and numpy values
        # come back as plain numbers.
        return json.loads(_dump_json(manifest_fields))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"manifest_fields must be JSON-serializable without NaN/inf ({exc}); convert the value, "
            "e.g. use None for a missing metric"
        ) from exc


def _check_class_names(class_names: Sequence[str]) -> list[str]:
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise ValueError(f"class_names must be a sequence of strings, got {class_names!r}")
    names = list(class_names)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"class_names must be non-empty strings, one per class, got {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique, got {names!r}")
    return names


def _check_part(index: int, part: Any, num_classes: int) -> _CheckedPart:
    where = f"parts[{index}]"
    if not isinstance(part, Rows):
        raise ValueError(f"{where} must be a gan_core.publish.Rows, got {type(part).__name__}")
    images = part.images
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        kind = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(
            f"{where}.images must be a uint8 numpy array, got {kind}; convert generator output "
            "with gan_core.imaging.to_uint8"
        )
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{where}.images must have shape (N, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]}), got {part.images.shape}"
        )
    count = images.shape[0]
    labels = part.labels
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.shape != (count,):
        shape = labels.shape if isinstance(labels, np.ndarray) else type(labels).__name__
        dtype = labels.dtype if isinstance(labels, np.ndarray) else ""
        raise ValueError(
            f"{where}.labels must be an integer array of shape ({count},) to match the images, "
            f"got {shape} {dtype}"
        )
    if count and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{where}.labels must lie in [0, {num_classes - 1}] (one per class name), got range "
            f"[{labels.min()}, {labels.max()}]; check class_names"
        )
    if part.source not in SOURCES:
        raise ValueError(f"{where}.source must be one of {SOURCES}, got {part.source!r}")
    if not isinstance(part.split, str) or not _SPLIT_PATTERN.match(part.split):
        raise ValueError(
            f"{where}.split {part.split!r} is not allowed: use 1-64 letters, digits or '_' "
            "(it becomes part of the shard file names)"
        )
    if part.source == "real" and (part.judge_confidence is not None or part.generator_version is not None):
        raise ValueError(
            f"{where} is real but has judge_confidence or generator_version; those describe "
            "synthetic rows only, so pass None"
        )
    confidence = part.judge_confidence
    if confidence is not None:
        confidence = np.asarray(confidence)
        if confidence.dtype.kind not in "fiu" or confidence.shape != (count,):
            raise ValueError(
                f"{where}.judge_confidence must be a float array of shape ({count},), got "
                f"{confidence.shape} {confidence.dtype}"
            )
        confidence = confidence.astype(np.float32)
        if count and not (np.all(np.isfinite(confidence)) and confidence.min() >= 0 and confidence.max() <= 1):
            raise ValueError(f"{where}.judge_confidence must be finite and within [0, 1]")
    if part.generator_version is not None and (
        not isinstance(part.generator_version, str) or not part.generator_version
    ):
        raise ValueError(f"{where}.generator_version must be a non-empty string or None")
    sample_ids = part.sample_ids
    if sample_ids is not None:
        sample_ids = list(sample_ids)
        if len(sample_ids) != count:
            raise ValueError(f"{where}.sample_ids has {len(sample_ids)} entries for {count} images")
        if not all(isinstance(sample_id, str) and sample_id and "/" not in sample_id for sample_id in sample_ids):
            raise ValueError(f"{where}.sample_ids must be non-empty strings without '/'")
    return _CheckedPart(
        images=images,
        labels=labels.astype(np.int64),
        source=part.source,
        split=part.split,
        sample_ids=sample_ids,  # filled in by _assign_sample_ids
        judge_confidence=confidence,
        generator_version=part.generator_version,
    )


def _assign_sample_ids(parts: list[_CheckedPart]) -> list[_CheckedPart]:
    counters: Counter = Counter()
    filled = []
    for part in parts:
        ids = part.sample_ids
        if ids is None:
            prefix = "real" if part.source == "real" else "syn"
            start = counters[(part.source, part.split)]
            ids = [f"{prefix}-{part.split}-{start + i:06d}" for i in range(len(part.labels))]
        counters[(part.source, part.split)] += len(ids)
        filled.append(
            _CheckedPart(
                images=part.images,
                labels=part.labels,
                source=part.source,
                split=part.split,
                sample_ids=ids,
                judge_confidence=part.judge_confidence,
                generator_version=part.generator_version,
            )
        )
    seen: set[str] = set()
    for part in filled:
        for sample_id in part.sample_ids:
            if sample_id in seen:
                raise ValueError(
                    f"sample_id {sample_id!r} appears more than once; sample ids must be unique across "
                    "all parts (pass None to number them automatically)"
                )
            seen.add(sample_id)
    return filled


def _part_table(part: _CheckedPart, schema: pa.Schema) -> pa.Table:
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


def _split_tables(parts: list[_CheckedPart], schema: pa.Schema) -> dict[str, pa.Table]:
    by_split: dict[str, list[pa.Table]] = {}
    for part in parts:
        by_split.setdefault(part.split, []).append(_part_table(part, schema))
    return {split: pa.concat_tables(tables).combine_chunks() for split, tables in by_split.items()}


def _counts(parts: list[_CheckedPart], class_names: list[str]) -> dict:
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
    manifest = {**manifest_head, "shards": shards}
    text = _dump_json(manifest)
    (staging / MANIFEST_FILE).write_text(text)
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


def _point_latest(dataset_dir: Path, final: Path, version: int) -> None:
    current = _read_latest(dataset_dir)
    if current is not None and current > version:
        # A concurrent publisher already moved LATEST past us; do not move it backwards.
        logger.warning("LATEST already points to %s; leaving it (published %s)", version_name(current), final)
        return
    try:
        atomic_write_bytes(dataset_dir / LATEST_FILE, f"{version_name(version)}\n".encode())
    except BaseException as exc:
        # Keep the promise that a failed publish leaves no visible version: take it back out
        # with one rename (atomic for readers), then delete it.
        trash = final.with_name(f".{final.name}.rollback.{uuid.uuid4().hex}")
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
        if isinstance(exc, OSError):
            raise PublishError(
                f"could not update {dataset_dir / LATEST_FILE} ({exc}); {final.name} was removed again, "
                "so nothing was published. Fix the cause and publish again"
            ) from exc
        raise


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
    names = _check_class_names(class_names)
    extra_fields = _check_manifest_fields(manifest_fields)
    if not isinstance(parts, (list, tuple)) or not parts:
        raise ValueError("parts is empty: pass at least one Rows block to publish")
    checked = _assign_sample_ids([_check_part(i, part, len(names)) for i, part in enumerate(parts)])
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
        "code_version": {"gan_core": gan_core.__version__, "git_commit": _git_commit()},
        "class_names": names,
        "image_shape": list(IMAGE_SHAPE),
        "image_format": "png",
        "compression": COMPRESSION,
        "rows_per_shard": rows_per_shard,
        "arrow_schema": schema.to_string(show_schema_metadata=False),
        **_counts(checked, names),
        **extra_fields,
    }
    version = 0
    for _ in range(_MAX_VERSION_ATTEMPTS):
        # Never reuse a number LATEST has pointed to, even if its directory was deleted, and
        # always move past a number that turned out to be taken.
        version = max(version, *list_versions(dataset_dir), _read_latest(dataset_dir) or 0) + 1
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
    _point_latest(dataset_dir, final, version)
    logger.info(
        "published %s: %d rows in %d shards (%s bytes)",
        final,
        manifest["num_rows"],
        len(manifest["shards"]),
        f"{sum(shard['bytes'] for shard in manifest['shards']):,}",
    )
    return PublishedVersion(path=final, version=version, manifest=manifest)


def verify(version_dir: Path) -> dict:
    """Checks a published version against its manifest: sizes, sha256, row counts, file set.

    Returns:
        Summary: dataset_name, version, path, shards, rows, bytes, rows_per_split.

    Raises:
        PublishError: Naming the first bad shard (missing, wrong size/hash/row count, or an
            unexpected extra file).
    """
    version_dir = Path(version_dir)
    manifest = read_manifest(version_dir)
    fix = (
        f"restore {version_dir.name} from a backup or publish the data again as a new version "
        "(published versions are never edited in place)"
    )
    try:
        shards = list(manifest["shards"])
        expected_split_rows = dict(manifest["rows_per_split"])
    except (KeyError, TypeError) as exc:
        raise PublishError(f"{version_dir / MANIFEST_FILE} lacks 'shards' or 'rows_per_split'; {fix}") from exc
    listed: set[str] = set()
    split_rows: Counter = Counter()
    total_bytes = 0
    for shard in shards:
        relative = shard["path"]
        listed.add(relative)
        path = version_dir / relative
        if not path.is_file():
            raise PublishError(f"shard {relative} is missing from {version_dir}; {fix}")
        size = path.stat().st_size
        if size != shard["bytes"]:
            raise PublishError(
                f"shard {relative} has {size} bytes, the manifest says {shard['bytes']}; it is corrupt, {fix}"
            )
        if sha256_file(path) != shard["sha256"]:
            raise PublishError(f"shard {relative} does not match its sha256 in the manifest; it is corrupt, {fix}")
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise PublishError(f"shard {relative} is not readable Parquet ({exc}); {fix}") from exc
        if rows != shard["rows"]:
            raise PublishError(f"shard {relative} has {rows} rows, the manifest says {shard['rows']}; {fix}")
        split_rows[shard["split"]] += rows
        total_bytes += size
    present = {
        path.relative_to(version_dir).as_posix() for path in (version_dir / DATA_DIR).rglob("*") if path.is_file()
    }
    extra = sorted(present - listed)
    if extra:
        raise PublishError(
            f"{extra[0]} in {version_dir} is not listed in the manifest; remove it (versions hold "
            "only their published shards) or " + fix
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
