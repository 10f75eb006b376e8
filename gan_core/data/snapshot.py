"""Content-addressed snapshots of real data, and the ingest step that writes them.

Every route ends in one validated :class:`LabeledSplits`, and :func:`write_snapshot` freezes it
into a content-addressed directory (``<cache_root>/snapshots/<fingerprint[:16]>/``) holding
``arrays.npz`` and ``meta.json``. Rows are put in a canonical, content-derived order before
hashing, so the same images reach the same fingerprint whichever route (folder, Parquet, tfds, IDX,
sample) read them. :func:`ingest` is the data stage's step: load the source, subset it, write the
snapshot. Images are uint8 ``(N, H, W, C)``; ``meta.json`` records ``image_shape`` ``[H, W, C]`` and
``split`` (how train and test were told apart: ``method`` "given" or "seeded-stratified",
``test_split``, ``test_fraction``, ``seed``). Format 1 snapshots (28x28, before both) still load.

Memory: :func:`ingest` owns the arrays it loaded, so it reorders them in place and streams them
into ``arrays.npz``; its peak is the image array plus a small constant.

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
from gan_core.data.subset import given_split, label_blind_split, stratified_subset
from gan_core.data.unlabeled import read_unlabeled_source
from gan_core.imaging import as_4d
from gan_core.io.fsutil import atomic_write_json, staged_directory, write_npz
from gan_core.io.hashing import sha256_file

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules


_SNAPSHOT_FORMAT = 2  # 2: (N, H, W, C) images, image_shape and split in meta.json
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
    image_shape: tuple[int, int, int]  # (H, W, C) of every image
    split: dict  # meta.json's "split": method, test_split, test_fraction, seed
    pool: dict | None = None  # meta.json's "pool" section; None without use_unlabeled

    @property
    def pool_path(self) -> Path | None:
        """The unlabeled pool's ``pool.npz`` (images only), or None when there is no pool."""
        return None if self.pool is None else self.path / POOL_FILE


def _image_keys(images: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """One 16-byte content digest per image (of ``rows``, default all), from its pixels alone."""
    images = np.ascontiguousarray(images)
    rows = range(len(images)) if rows is None else rows
    return np.array([hashlib.blake2b(images[row], digest_size=16).digest() for row in rows], dtype="S16")


def _canonical_order(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Returns a row order derived from content only, so every route yields the same arrays."""
    keys = np.array(
        [
            hashlib.blake2b(image.tobytes() + bytes([int(label) & 0xFF]), digest_size=16).digest()
            for image, label in zip(images, labels)
        ],
        dtype="S16",
    )
    return np.argsort(keys, kind="stable")


def permute_rows_in_place(array: np.ndarray, order: np.ndarray) -> None:
    """Sets ``array[:] = array[order]`` without a second copy of the array.

    Follows the permutation's cycles with one spare row, so the extra memory is a row and a flag
    per row, where ``array[order]`` would hold a whole copy.
    """
    order = np.asarray(order).tolist()
    done = bytearray(len(order))
    spare = np.empty_like(array[0]) if len(array) else None
    for start, source in enumerate(order):
        if done[start] or source == start:
            continue
        spare[...] = array[start]
        position = start
        while True:
            done[position] = 1
            source = order[position]
            if source == start:
                array[position] = spare
                break
            array[position] = array[source]
            position = source


def _fingerprint(
    arrays: dict[str, np.ndarray],
    class_names: tuple[str, ...],
    pool: np.ndarray | None = None,
    version: int = _SNAPSHOT_FORMAT,
) -> str:
    digest = hashlib.sha256(f"gan_core.data.snapshot.v{version}\n".encode())
    digest.update(json.dumps(list(class_names)).encode())
    named = [(key, arrays[key]) for key in _SNAPSHOT_ARRAYS]
    # Appended only when there is a pool, so snapshots without one keep their fingerprints.
    if pool is not None:
        named.append(("pool_images", pool))
    for key, array in named:
        array = np.ascontiguousarray(array)
        digest.update(f"\n{key}:{array.dtype.str}:{array.shape}\n".encode())
        digest.update(array.reshape(-1).view(np.uint8))  # the buffer itself: no bytes copy of it
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
        version = int(meta.get("format_version", 1))
        pool_meta = meta.get("pool")
        pool_sha = None if pool_meta is None else pool_meta["npz_sha256"]
    except (ValueError, KeyError, TypeError) as error:
        raise _corrupt(path, f"meta.json is unreadable ({error})") from error
    if version > _SNAPSHOT_FORMAT:
        raise DataError(
            f"snapshot {path} has format {version}, newer than this gan_core reads ({_SNAPSHOT_FORMAT}); "
            "upgrade gan-augment or re-run ingest into another cache root"
        )
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
    if _fingerprint(arrays, class_names, pool, version) != fingerprint:
        raise _corrupt(path, "the arrays do not hash to the fingerprint in meta.json")
    # Format 1 stored (N, 28, 28) arrays and neither key; the channel axis is added once, here.
    arrays = {key: as_4d(array) if key.endswith("images") else array for key, array in arrays.items()}
    pool = None if pool is None else as_4d(pool)
    snapshot = Snapshot(
        path=path,
        fingerprint=fingerprint,
        source_used=source_used,
        class_names=class_names,
        counts=counts,
        image_shape=tuple(meta.get("image_shape") or arrays["train_images"].shape[1:]),
        split=meta.get("split") or given_split(None),
        pool=pool_meta,
    )
    return snapshot, arrays, pool


def load_snapshot(path: Path) -> tuple[Snapshot, LabeledSplits]:
    """Loads a snapshot directory after re-hashing its files against ``meta.json``.

    Raises:
        DataError: the directory, meta, arrays or pool are missing, unreadable or do not match.
    """
    snapshot, arrays, _ = _read_verified(path)
    splits = LabeledSplits(
        **arrays, class_names=snapshot.class_names, source_used=snapshot.source_used, split=snapshot.split
    )
    return snapshot, splits


def load_pool(path: Path) -> np.ndarray:
    """Loads a snapshot's unlabeled pool: uint8 images (M, H, W, C), verified like the rest.

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


def _gather(parts: list[np.ndarray], rows: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``np.concatenate(parts)[rows]`` built a chunk at a time, without the concatenation."""
    offsets = np.cumsum([0] + [len(part) for part in parts])
    out = np.empty((len(rows), *parts[0].shape[1:]), parts[0].dtype)
    owner = np.searchsorted(offsets, rows, side="right") - 1
    for index, part in enumerate(parts):
        mine = np.flatnonzero(owner == index)
        for start in range(0, len(mine), chunk):
            picked = mine[start : start + chunk]
            out[picked] = part[rows[picked] - offsets[index]]
    return out


def _pool_split(
    splits: LabeledSplits,
    real_labeled_limit: int,
    seed: int,
    extra_pool: np.ndarray | None,
    test_images: np.ndarray,
    in_place: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The label-scarce split: (labeled images, their labels, pool images, pool facts).

    Only ``splits.train_labels`` at the chosen rows are ever indexed; the order and the choice come
    from pixels and the seed alone. Pool images byte-identical to a test image (a leak into
    evaluation), to a labeled image, or to an earlier pool image are dropped.
    """
    order = np.argsort(_image_keys(splits.train_images), kind="stable")
    if in_place:
        images = splits.train_images
        permute_rows_in_place(images, order)
        permute_rows_in_place(splits.train_labels, order)
        labels = splits.train_labels
    else:
        images, labels = splits.train_images[order], splits.train_labels[order]
    labeled, rest = label_blind_split(len(images), real_labeled_limit, seed)
    labeled_images, labeled_labels = images[labeled], labels[labeled]
    external = np.zeros((0, *images.shape[1:]), np.uint8) if extra_pool is None else extra_pool
    keys = np.concatenate([_image_keys(images, rest), _image_keys(external)])
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
            "within_pool": int(len(keys) - len(unique_keys)),
        },
    }
    pool_rows = np.concatenate([rest, len(images) + np.arange(len(external))])[keep]
    return labeled_images, labeled_labels, _gather([images, external], pool_rows), facts


def _ordered(splits: LabeledSplits, split: str, in_place: bool) -> tuple[np.ndarray, np.ndarray]:
    """A split's (images, labels) in canonical content order, reordered in place when allowed."""
    images, labels = getattr(splits, f"{split}_images"), getattr(splits, f"{split}_labels")
    order = _canonical_order(images, labels)
    if not in_place:
        return images[order], labels[order]
    permute_rows_in_place(images, order)
    permute_rows_in_place(labels, order)
    return images, labels


def write_snapshot(
    splits: LabeledSplits,
    cache_root: Path,
    real_labeled_limit: int | None,
    seed: int,
    *,
    use_unlabeled: bool = False,
    extra_pool: np.ndarray | None = None,
    pool_source: str | None = None,
    in_place: bool = False,
    require_every_class: bool = False,
) -> Snapshot:
    """Writes ``splits`` (train limited to ``real_labeled_limit``) as a snapshot.

    Rows are put in a canonical content order first, then train is subset, so the same data from
    any route gives the same fingerprint and directory. An existing, valid snapshot with that
    fingerprint is returned as it is; its meta.json keeps the source (and split record) of whoever
    wrote it first.

    Without ``use_unlabeled`` the subset is stratified and the rest is thrown away. With it, the
    labeled rows are a label-blind seeded draw and the rest of train, plus ``extra_pool`` (images
    from ``pool_source``, already in the labeled data's geometry), is kept as the unlabeled pool in
    ``pool.npz``.

    Args:
        in_place: Reorder ``splits``' arrays in place instead of copying them (``splits`` stays
            valid, its rows reordered): what :func:`ingest`, which owns them, does to save memory.
        require_every_class: Refuse, before writing, a training split that lacks a class
            (:func:`check_every_class_present`).

    Raises:
        DataError: the subset is impossible, the pool would be empty, a class is absent (with
            ``require_every_class``), or an existing snapshot with this fingerprint is corrupt.
    """
    if use_unlabeled and real_labeled_limit is None:
        raise DataError("use_unlabeled needs real_labeled_limit: set the number of labeled images to keep")
    extra_pool = None if extra_pool is None else as_4d(extra_pool)
    if extra_pool is not None and extra_pool.shape[1:] != splits.image_shape:
        raise DataError(
            f"the unlabeled images are {extra_pool.shape[1:]} but the labeled ones {splits.image_shape}; "
            "read the pool with the labeled data's image_shape"
        )
    arrays = {}
    arrays["test_images"], arrays["test_labels"] = _ordered(splits, "test", in_place)
    pool, pool_facts = None, None
    if use_unlabeled:
        arrays["train_images"], arrays["train_labels"], pool, pool_facts = _pool_split(
            splits, real_labeled_limit, seed, extra_pool, arrays["test_images"], in_place
        )
        if len(pool) == 0:
            raise DataError(
                f"the unlabeled pool is empty: real_labeled_limit {real_labeled_limit} keeps every one of the "
                f"{len(splits.train_labels)} training images labeled and no other image is left; lower "
                "real_labeled_limit or give unlabeled_source"
            )
    else:
        arrays["train_images"], arrays["train_labels"] = _ordered(splits, "train", in_place)
        if real_labeled_limit is not None:
            arrays["train_images"], arrays["train_labels"] = stratified_subset(
                arrays["train_images"], arrays["train_labels"], real_labeled_limit, seed
            )
    counts = _counts(arrays, splits.class_names)
    if require_every_class:
        check_every_class_present(counts, splits.source_used)
    fingerprint = _fingerprint(arrays, splits.class_names, pool)
    final = Path(cache_root) / "snapshots" / fingerprint[:16]
    if final.exists():
        return _reuse(final, fingerprint)
    split = splits.split or given_split(None)
    try:
        with staged_directory(final) as stage:
            write_npz(stage / "arrays.npz", arrays)
            meta = {
                "format_version": _SNAPSHOT_FORMAT,
                "fingerprint": fingerprint,
                "source_used": splits.source_used,
                "class_names": list(splits.class_names),
                "counts": counts,
                "image_shape": list(splits.image_shape),
                "split": split,
                "npz_sha256": sha256_file(stage / "arrays.npz"),
                "created_at": datetime.now(timezone.utc).isoformat(),
                "real_labeled_limit": real_labeled_limit,
                "seed": seed,
            }
            if pool is not None:
                # Images only: the pool's labels were dropped above and are not stored anywhere.
                write_npz(stage / POOL_FILE, {"images": pool})
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
        path=final,
        fingerprint=fingerprint,
        source_used=splits.source_used,
        class_names=splits.class_names,
        counts=counts,
        image_shape=splits.image_shape,
        split=split,
        pool=meta.get("pool"),
    )


def _reuse(final: Path, fingerprint: str) -> Snapshot:
    snapshot, _ = load_snapshot(final)
    if snapshot.fingerprint != fingerprint:
        raise _corrupt(final, f"it holds fingerprint {snapshot.fingerprint}, expected {fingerprint}")
    logger.info("snapshot %s already exists and verifies; reusing it", final)
    return snapshot


def check_every_class_present(counts: dict, source: str) -> None:
    """Refuses training data that lacks a class: the GAN would still generate and label it.

    A conditional GAN asked for a class it never saw produces images the judge cannot trust, and
    publishing them under that label would be a lie, so absent classes are an error, not a
    silent subset.

    Raises:
        DataError: naming the absent classes and the fix.
    """
    per_class = counts["train"]["per_class"]
    missing = [name for name, count in per_class.items() if count == 0]
    if missing:
        raise DataError(
            f"the training data from {source} has no images of class(es) {missing} (of {len(per_class)}); "
            "every class must be present, since the GAN generates and labels all of them: use data with "
            "every class, or a larger real_labeled_limit (with use_unlabeled the labeled images are a "
            "label-blind draw, so another seed may also do)"
        )


def ingest(config: DataConfig, cache_root: Path, network_check: Callable[[], bool] | None = None) -> Snapshot:
    """Loads ``config.source`` (and its unlabeled source) and writes or reuses its snapshot under ``cache_root``.

    Every check runs before anything is written: a source that fails, or training data lacking a
    class, leaves no snapshot behind.
    """
    splits = load_source(config, network_check=network_check)
    shape = "x".join(map(str, splits.image_shape))
    if config.use_unlabeled:
        # The labels of the future pool are in ``splits`` until write_snapshot drops them, so
        # nothing label-related is logged here.
        logger.info(
            "ingested %s: %d train / %d test images of %s, %d classes (label-scarce mode)",
            splits.source_used,
            len(splits.train_labels),
            len(splits.test_labels),
            shape,
            len(splits.class_names),
        )
    else:
        logger.info(
            "ingested %s: %d train / %d test images of %s, %d classes; train per class %s",
            splits.source_used,
            len(splits.train_labels),
            len(splits.test_labels),
            shape,
            len(splits.class_names),
            splits.class_counts("train").tolist(),
        )
    extra_pool = read_unlabeled_source(config.unlabeled_source, splits.image_shape) if config.unlabeled_source else None
    snapshot = write_snapshot(
        splits,
        cache_root,
        config.real_labeled_limit,
        config.seed,
        use_unlabeled=config.use_unlabeled,
        extra_pool=extra_pool,
        pool_source=config.unlabeled_source,
        in_place=True,
        require_every_class=True,
    )
    logger.info(
        "snapshot %s (fingerprint %s): %d train / %d test images after real_labeled_limit=%s%s",
        snapshot.path,
        snapshot.fingerprint[:16],
        snapshot.counts["train"]["total"],
        snapshot.counts["test"]["total"],
        config.real_labeled_limit,
        f", unlabeled pool {snapshot.pool['count']} images" if snapshot.pool else "",
    )
    return snapshot
