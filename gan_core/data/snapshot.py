"""Content-addressed snapshots of real data, and the ingest step that writes them.

Every route ends in one validated :class:`LabeledSplits`, and :func:`write_snapshot` freezes it
into a content-addressed directory (``<cache_root>/snapshots/<fingerprint[:16]>/``) holding
``arrays.npz`` and ``meta.json``. Rows are put in a canonical, content-derived order before
hashing, so the same images reach the same fingerprint whichever route (tfds, IDX, sample) read
them. :func:`ingest` is the data stage's step: load the source, subset it, write the snapshot.

In the label-scarce mode (``use_unlabeled``) the snapshot also holds ``pool.npz``: the unlabeled
pool, images only (there is no label array in it to leak). The labeled rows are then picked by
:func:`~gan_core.data.subset.label_blind_split` after a label-free content order, so the pool's
true labels are never read: changing them changes no byte of the snapshot.
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
from gan_core.data.subset import label_blind_split, stratified_subset
from gan_core.data.unlabeled import read_unlabeled_source
from gan_core.io.fsutil import atomic_write_bytes, atomic_write_json, staged_directory, npz_bytes
from gan_core.io.hashing import sha256_file

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules


_SNAPSHOT_FORMAT = 1
_SNAPSHOT_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
POOL_FILE = "pool.npz"


@dataclass(frozen=True)
class Snapshot:
    """A written, verified snapshot directory and what it holds."""

    path: Path
    fingerprint: str
    source_used: str
    class_names: tuple[str, ...]
    counts: dict
    pool: dict | None = None  # meta.json's "pool" section; None without use_unlabeled

    @property
    def pool_path(self) -> Path | None:
        """The unlabeled pool's ``pool.npz`` (images only), or None when there is no pool."""
        return None if self.pool is None else self.path / POOL_FILE


def _image_keys(images: np.ndarray) -> np.ndarray:
    """One 16-byte content digest per image, from its pixels alone."""
    flat = images.reshape(len(images), int(np.prod(images.shape[1:])))
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat], dtype="S16")


def _canonical_order(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Returns a row order derived from content only, so every route yields the same arrays."""
    flat = images.reshape(len(images), -1)
    keys = np.array(
        [hashlib.blake2b(row.tobytes() + bytes([int(label) & 0xFF]), digest_size=16).digest()
         for row, label in zip(flat, labels)],
        dtype="S16",
    )
    return np.argsort(keys, kind="stable")


def _fingerprint(arrays: dict[str, np.ndarray], class_names: tuple[str, ...], pool: np.ndarray | None = None) -> str:
    digest = hashlib.sha256(f"gan_core.data.snapshot.v{_SNAPSHOT_FORMAT}\n".encode())
    digest.update(json.dumps(list(class_names)).encode())
    for key in _SNAPSHOT_ARRAYS:
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"\n{key}:{array.dtype.str}:{array.shape}\n".encode())
        digest.update(array.tobytes())
    # Appended only when there is a pool, so snapshots without one keep their fingerprints.
    if pool is not None:
        pool = np.ascontiguousarray(pool)
        digest.update(f"\npool_images:{pool.dtype.str}:{pool.shape}\n".encode())
        digest.update(pool.tobytes())
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


def _read_verified(path: Path) -> tuple[Snapshot, dict[str, np.ndarray], np.ndarray | None]:
    """Reads a snapshot directory, re-hashing every file against ``meta.json`` and the fingerprint."""
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
        pool_meta = meta.get("pool")
        pool_sha = None if pool_meta is None else pool_meta["npz_sha256"]
    except (ValueError, KeyError, TypeError) as error:
        raise _corrupt(path, f"meta.json is unreadable ({error})") from error
    actual_sha = sha256_file(npz_path)
    if actual_sha != expected_sha:
        raise _corrupt(path, f"arrays.npz sha256 {actual_sha} != {expected_sha} in meta.json")
    with np.load(npz_path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in _SNAPSHOT_ARRAYS}
    pool = None
    if pool_meta is not None:
        pool_path = path / POOL_FILE
        if not pool_path.is_file():
            raise _corrupt(path, f"meta.json records an unlabeled pool but {POOL_FILE} is missing")
        actual_pool_sha = sha256_file(pool_path)
        if actual_pool_sha != pool_sha:
            raise _corrupt(path, f"{POOL_FILE} sha256 {actual_pool_sha} != {pool_sha} in meta.json")
        with np.load(pool_path, allow_pickle=False) as archive:
            if archive.files != ["images"]:
                raise _corrupt(path, f"{POOL_FILE} holds {archive.files}, expected only 'images'")
            pool = archive["images"]
    if _fingerprint(arrays, class_names, pool) != fingerprint:
        raise _corrupt(path, "the arrays do not hash to the fingerprint in meta.json")
    snapshot = Snapshot(
        path=path, fingerprint=fingerprint, source_used=source_used, class_names=class_names,
        counts=counts, pool=pool_meta,
    )
    return snapshot, arrays, pool


def load_snapshot(path: Path) -> tuple[Snapshot, LabeledSplits]:
    """Loads a snapshot directory after re-hashing its files against ``meta.json``.

    Raises:
        DataError: the directory, meta, arrays or pool are missing, unreadable or do not match.
    """
    snapshot, arrays, _ = _read_verified(path)
    splits = LabeledSplits(**arrays, class_names=snapshot.class_names, source_used=snapshot.source_used)
    return snapshot, splits


def load_pool(path: Path) -> np.ndarray:
    """Loads a snapshot's unlabeled pool: uint8 images (M, 28, 28), verified like the rest.

    Raises:
        DataError: the snapshot has no pool (ingested without use_unlabeled), or is corrupt.
    """
    snapshot, _, pool = _read_verified(path)
    if pool is None:
        raise DataError(
            f"snapshot {snapshot.path} has no unlabeled pool: ingest with use_unlabeled=True "
            "(and real_labeled_limit) to keep one"
        )
    return pool


def _pool_split(
    splits: LabeledSplits, real_labeled_limit: int, seed: int, extra_pool: np.ndarray | None, test_images: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The label-scarce split: (labeled images, their labels, pool images, pool facts).

    Only ``splits.train_labels`` at the chosen rows are ever indexed; the order and the choice come
    from pixels and the seed alone. Pool images byte-identical to a test image (a leak into
    evaluation), to a labeled image, or to an earlier pool image are dropped.
    """
    order = np.argsort(_image_keys(splits.train_images), kind="stable")
    images = splits.train_images[order]
    labeled, rest = label_blind_split(len(images), real_labeled_limit, seed)
    labeled_images, labeled_labels = images[labeled], splits.train_labels[order[labeled]]
    external = np.zeros((0, *images.shape[1:]), np.uint8) if extra_pool is None else extra_pool
    pool = np.concatenate([images[rest], external])
    keys = _image_keys(pool)
    unique_keys, first = np.unique(keys, return_index=True)  # sorted by key: a content order
    in_test = np.isin(unique_keys, _image_keys(test_images))
    in_labeled = np.isin(unique_keys, _image_keys(labeled_images)) & ~in_test
    keep = first[~(in_test | in_labeled)]
    facts = {
        "from_train_split": int(len(rest)),
        "from_unlabeled_source": int(len(external)),
        "dropped_duplicates": {
            "of_test": int(in_test.sum()),
            "of_labeled": int(in_labeled.sum()),
            "within_pool": int(len(pool) - len(unique_keys)),
        },
    }
    return labeled_images, labeled_labels, pool[keep], facts


def write_snapshot(
    splits: LabeledSplits,
    cache_root: Path,
    real_labeled_limit: int | None,
    seed: int,
    *,
    use_unlabeled: bool = False,
    extra_pool: np.ndarray | None = None,
    pool_source: str | None = None,
) -> Snapshot:
    """Writes ``splits`` (train limited to ``real_labeled_limit``) as a snapshot.

    Rows are put in a canonical content order first, then train is subset, so the same data from
    any route gives the same fingerprint and directory. An existing, valid snapshot with that
    fingerprint is returned as it is; its meta.json keeps the source of whoever wrote it first.

    Without ``use_unlabeled`` the subset is stratified and the rest is thrown away. With it, the
    labeled rows are a label-blind seeded draw and the rest of train, plus ``extra_pool`` (images
    from ``pool_source``), is kept as the unlabeled pool in ``pool.npz``.

    Raises:
        DataError: the subset is impossible, the pool would be empty, or an existing snapshot with
            this fingerprint is corrupt.
    """
    if use_unlabeled and real_labeled_limit is None:
        raise DataError("use_unlabeled needs real_labeled_limit: set the number of labeled images to keep")
    arrays = {}
    order = _canonical_order(splits.test_images, splits.test_labels)
    arrays["test_images"], arrays["test_labels"] = splits.test_images[order], splits.test_labels[order]
    pool, pool_facts = None, None
    if use_unlabeled:
        arrays["train_images"], arrays["train_labels"], pool, pool_facts = _pool_split(
            splits, real_labeled_limit, seed, extra_pool, arrays["test_images"]
        )
        if len(pool) == 0:
            raise DataError(
                f"the unlabeled pool is empty: real_labeled_limit {real_labeled_limit} keeps every one of the "
                f"{len(splits.train_labels)} training images labeled and no other image is left; lower "
                "real_labeled_limit or give unlabeled_source"
            )
    else:
        order = _canonical_order(splits.train_images, splits.train_labels)
        arrays["train_images"], arrays["train_labels"] = splits.train_images[order], splits.train_labels[order]
        if real_labeled_limit is not None:
            arrays["train_images"], arrays["train_labels"] = stratified_subset(
                arrays["train_images"], arrays["train_labels"], real_labeled_limit, seed
            )
    fingerprint = _fingerprint(arrays, splits.class_names, pool)
    final = Path(cache_root) / "snapshots" / fingerprint[:16]
    if final.exists():
        return _reuse(final, fingerprint)
    counts = _counts(arrays, splits.class_names)
    try:
        with staged_directory(final) as stage:
            atomic_write_bytes(stage / "arrays.npz", npz_bytes(arrays))
            meta = {
                "format_version": _SNAPSHOT_FORMAT,
                "fingerprint": fingerprint,
                "source_used": splits.source_used,
                "class_names": list(splits.class_names),
                "counts": counts,
                "npz_sha256": sha256_file(stage / "arrays.npz"),
                "created_at": datetime.now(timezone.utc).isoformat(),
                "real_labeled_limit": real_labeled_limit,
                "seed": seed,
            }
            if pool is not None:
                # Images only: the pool's labels were dropped above and are not stored anywhere.
                atomic_write_bytes(stage / POOL_FILE, npz_bytes({"images": pool}))
                meta["pool"] = {
                    "count": int(len(pool)),
                    "npz_sha256": sha256_file(stage / POOL_FILE),
                    "labeled_selection": "label-blind",
                    "unlabeled_source": pool_source,
                    **pool_facts,
                }
            atomic_write_json(stage / "meta.json", meta)
    except FileExistsError:
        # Another ingest of the same data won the rename; its snapshot is as good as ours.
        return _reuse(final, fingerprint)
    logger.info("wrote snapshot %s (%s)", final, splits.source_used)
    return Snapshot(
        path=final, fingerprint=fingerprint, source_used=splits.source_used,
        class_names=splits.class_names, counts=counts, pool=meta.get("pool"),
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
    """Loads ``config.source`` (and its unlabeled source) and writes or reuses its snapshot under ``cache_root``."""
    splits = load_source(config, network_check=network_check)
    if config.use_unlabeled:
        # The labels of the future pool are in ``splits`` until write_snapshot drops them, so
        # nothing label-related is logged here.
        logger.info(
            "ingested %s: %d train / %d test images, %d classes (label-scarce mode)",
            splits.source_used, len(splits.train_labels), len(splits.test_labels), len(splits.class_names),
        )
    else:
        logger.info(
            "ingested %s: %d train / %d test images, %d classes; train per class %s",
            splits.source_used, len(splits.train_labels), len(splits.test_labels), len(splits.class_names),
            splits.class_counts("train").tolist(),
        )
    extra_pool = read_unlabeled_source(config.unlabeled_source) if config.unlabeled_source else None
    snapshot = write_snapshot(
        splits, cache_root, config.real_labeled_limit, config.seed,
        use_unlabeled=config.use_unlabeled, extra_pool=extra_pool, pool_source=config.unlabeled_source,
    )
    logger.info(
        "snapshot %s (fingerprint %s): %d train / %d test images after real_labeled_limit=%s%s",
        snapshot.path, snapshot.fingerprint[:16], snapshot.counts["train"]["total"],
        snapshot.counts["test"]["total"], config.real_labeled_limit,
        f", unlabeled pool {snapshot.pool['count']} images" if snapshot.pool else "",
    )
    return snapshot
