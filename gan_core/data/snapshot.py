"""Content-addressed snapshots of real data, and the ingest step that writes them.

Every route ends in one validated :class:`LabeledSplits`, and :func:`write_snapshot` freezes it
into a content-addressed directory (``<cache_root>/snapshots/<fingerprint[:16]>/``) holding
``arrays.npz`` and ``meta.json``. Rows are put in a canonical, content-derived order before
hashing, so the same images reach the same fingerprint whichever route (tfds, IDX, sample) read
them. :func:`ingest` is the data stage's step: load the source, subset it, write the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from gan_core.config import DataConfig
from gan_core.data.sources import load_source
from gan_core.data.splits import DataError, LabeledSplits
from gan_core.data.subset import stratified_subset
from gan_core.io.fsutil import atomic_write_json, staged_directory
from gan_core.io.hashing import sha256_file

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules


_SNAPSHOT_FORMAT = 1
_SNAPSHOT_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class Snapshot:
    """A written, verified snapshot directory and what it holds."""

    path: Path
    fingerprint: str
    source_used: str
    class_names: tuple[str, ...]
    counts: dict


def _canonical_order(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Returns a row order derived from content only, so every route yields the same arrays."""
    flat = images.reshape(len(images), -1)
    keys = np.array(
        [hashlib.blake2b(row.tobytes() + bytes([int(label) & 0xFF]), digest_size=16).digest()
         for row, label in zip(flat, labels)],
        dtype="S16",
    )
    return np.argsort(keys, kind="stable")


def _fingerprint(arrays: dict[str, np.ndarray], class_names: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"gan_core.data.snapshot.v{_SNAPSHOT_FORMAT}\n".encode())
    digest.update(json.dumps(list(class_names)).encode())
    for key in _SNAPSHOT_ARRAYS:
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"\n{key}:{array.dtype.str}:{array.shape}\n".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _counts(arrays: dict[str, np.ndarray], class_names: tuple[str, ...]) -> dict:
    counts = {}
    for split in ("train", "test"):
        per_class = np.bincount(arrays[f"{split}_labels"], minlength=len(class_names))
        counts[split] = {
            "total": int(len(arrays[f"{split}_labels"])),
            "per_class": {name: int(count) for name, count in zip(class_names, per_class)},
        }
    return counts


def _corrupt(directory: Path, problem: str) -> DataError:
    return DataError(f"snapshot corrupt: {problem}; delete {directory} and re-run ingest")


def load_snapshot(path: Path) -> tuple[Snapshot, LabeledSplits]:
    """Loads a snapshot directory after re-hashing ``arrays.npz`` against ``meta.json``.

    Raises:
        DataError: the directory, meta or arrays are missing, unreadable or do not match.
    """
    path = Path(path)
    meta_path, npz_path = path / "meta.json", path / "arrays.npz"
    if not meta_path.is_file() or not npz_path.is_file():
        raise _corrupt(path, "meta.json or arrays.npz is missing")
    try:
        meta = json.loads(meta_path.read_text())
        expected_sha, fingerprint = meta["npz_sha256"], meta["fingerprint"]
        class_names = tuple(meta["class_names"])
        source_used = meta["source_used"]
        counts = meta["counts"]
    except (ValueError, KeyError, TypeError) as error:
        raise _corrupt(path, f"meta.json is unreadable ({error})") from error
    actual_sha = sha256_file(npz_path)
    if actual_sha != expected_sha:
        raise _corrupt(path, f"arrays.npz sha256 {actual_sha} != {expected_sha} in meta.json")
    with np.load(npz_path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in _SNAPSHOT_ARRAYS}
    if _fingerprint(arrays, class_names) != fingerprint:
        raise _corrupt(path, "the arrays do not hash to the fingerprint in meta.json")
    splits = LabeledSplits(**arrays, class_names=class_names, source_used=source_used)
    snapshot = Snapshot(
        path=path, fingerprint=fingerprint, source_used=source_used, class_names=class_names,
        counts=counts,
    )
    return snapshot, splits


def write_snapshot(
    splits: LabeledSplits, cache_root: Path, real_labeled_limit: int | None, seed: int
) -> Snapshot:
    """Writes ``splits`` (train limited to ``real_labeled_limit``, stratified) as a snapshot.

    Rows are put in a canonical content order first, then train is subset, so the same data from
    any route gives the same fingerprint and directory. An existing, valid snapshot with that
    fingerprint is returned as it is; its meta.json keeps the source of whoever wrote it first.

    Raises:
        DataError: the subset is impossible, or an existing snapshot with this fingerprint is corrupt.
    """
    arrays = {}
    for split in ("train", "test"):
        images, labels = getattr(splits, f"{split}_images"), getattr(splits, f"{split}_labels")
        order = _canonical_order(images, labels)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images[order], labels[order]
    if real_labeled_limit is not None:
        arrays["train_images"], arrays["train_labels"] = stratified_subset(
            arrays["train_images"], arrays["train_labels"], real_labeled_limit, seed
        )
    fingerprint = _fingerprint(arrays, splits.class_names)
    final = Path(cache_root) / "snapshots" / fingerprint[:16]
    if final.exists():
        return _reuse(final, fingerprint)
    counts = _counts(arrays, splits.class_names)
    try:
        with staged_directory(final) as stage:
            with open(stage / "arrays.npz", "wb") as handle:
                np.savez(handle, **arrays)
            atomic_write_json(stage / "meta.json", {
                "format_version": _SNAPSHOT_FORMAT,
                "fingerprint": fingerprint,
                "source_used": splits.source_used,
                "class_names": list(splits.class_names),
                "counts": counts,
                "npz_sha256": sha256_file(stage / "arrays.npz"),
                "created_at": datetime.now(timezone.utc).isoformat(),
                "real_labeled_limit": real_labeled_limit,
                "seed": seed,
            })
    except FileExistsError:
        # Another ingest of the same data won the rename; its snapshot is as good as ours.
        return _reuse(final, fingerprint)
    logger.info("wrote snapshot %s (%s)", final, splits.source_used)
    return Snapshot(
        path=final, fingerprint=fingerprint, source_used=splits.source_used,
        class_names=splits.class_names, counts=counts,
    )


def _reuse(final: Path, fingerprint: str) -> Snapshot:
    snapshot, _ = load_snapshot(final)
    if snapshot.fingerprint != fingerprint:
        raise _corrupt(final, f"it holds fingerprint {snapshot.fingerprint}, expected {fingerprint}")
    logger.info("snapshot %s already exists and verifies; reusing it", final)
    return snapshot


def ingest(
    config: DataConfig, cache_root: Path, network_check: Callable[[], bool] | None = None
) -> Snapshot:
    """Loads ``config.source`` and writes (or reuses) its snapshot under ``cache_root``."""
    splits = load_source(config, network_check=network_check)
    logger.info(
        "ingested %s: %d train / %d test images, %d classes; train per class %s",
        splits.source_used, len(splits.train_labels), len(splits.test_labels), len(splits.class_names),
        splits.class_counts("train").tolist(),
    )
    snapshot = write_snapshot(splits, cache_root, config.real_labeled_limit, config.seed)
    logger.info(
        "snapshot %s (fingerprint %s): %d train / %d test images after real_labeled_limit=%s",
        snapshot.path, snapshot.fingerprint[:16], snapshot.counts["train"]["total"],
        snapshot.counts["test"]["total"], config.real_labeled_limit,
    )
    return snapshot
