"""Reading published versions back: a tf.data pipeline for training, and numpy for small data.

Parquet shards are streamed with pyarrow (``ParquetFile.iter_batches``), rows are filtered by
source and judge confidence with pyarrow compute, and only the PNG bytes and labels enter
TensorFlow, where ``tf.io.decode_png`` runs inside the graph. A version may live in a local
directory or at an ``s3://`` URL (credentials from the AWS environment, see
:mod:`gan_core.io.store`); remote shards are fetched whole, one GET each.
"""

from __future__ import annotations

import logging
import math
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tensorflow as tf

from gan_core.imaging import decode_png
from gan_core.io import store
from gan_core.io.store import Target
from gan_core.publish import MANIFEST_FILE, SOURCES, read_manifest, resolve_version, verify
from gan_core.publish.manifest import image_shape

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules

_READ_COLUMNS = ["image", "label", "source", "judge_confidence"]
# Rows per pyarrow batch handed to TensorFlow; big enough to amortise the Python hop.
_ARROW_BATCH_ROWS = 4096


def _version_dir(path: Target) -> Target:
    """Accepts a version directory, or a dataset directory whose LATEST is then resolved."""
    path = store.as_target(path)
    if store.is_file(store.join(path, MANIFEST_FILE)):
        return path
    return resolve_version(path, "latest")


def _check_split(manifest: dict, split: str, version_dir: Target) -> None:
    splits = sorted(manifest["rows_per_split"])
    if split not in splits:
        raise ValueError(f"split {split!r} is not in {version_dir}; available splits: {splits}")


def shard_paths(version_dir: Target, split: str) -> list[Target]:
    """Returns the Parquet shards of ``split`` in manifest order.

    Args:
        version_dir: A version directory, or a dataset directory (its LATEST is used); a local
            path or an ``s3://`` URL.
        split: Split name, e.g. "train".
    """
    version_dir = _version_dir(version_dir)
    manifest = read_manifest(version_dir)
    _check_split(manifest, split, version_dir)
    return [
        store.join(version_dir, *shard["path"].split("/")) for shard in manifest["shards"] if shard["split"] == split
    ]


def _check_filters(sources: Sequence[str], min_confidence: float | None) -> tuple[str, ...]:
    if isinstance(sources, str):
        sources = (sources,)
    sources = tuple(sources)
    unknown = sorted(set(sources) - set(SOURCES))
    if not sources or unknown:
        raise ValueError(f"sources must be a non-empty subset of {SOURCES}, got {sources!r}")
    number = isinstance(min_confidence, (int, float)) and not isinstance(min_confidence, bool)
    if min_confidence is not None and not (number and 0 <= min_confidence <= 1):
        raise ValueError(f"min_confidence must be None or a number in [0, 1], got {min_confidence!r}")
    return sources


def _filter(batch: pa.RecordBatch, sources: tuple[str, ...], min_confidence: float | None) -> pa.RecordBatch:
    """Keeps rows whose source is wanted and, for synthetic rows, whose confidence is high enough."""
    keep = pc.is_in(batch.column("source"), value_set=pa.array(sources, pa.string()))
    if min_confidence is not None:
        # Real rows carry no judge confidence (null) and always pass; synthetic rows with a
        # null confidence (never judged) are dropped.
        confident = pc.fill_null(pc.greater_equal(batch.column("judge_confidence"), min_confidence), False)
        keep = pc.and_(keep, pc.or_(pc.equal(batch.column("source"), "real"), confident))
    return batch.filter(keep)


def _iter_rows(
    paths: list[Target], sources: tuple[str, ...], min_confidence: float | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields (PNG bytes, labels) arrays per Arrow batch, filtered, in shard order."""
    for path in paths:
        parquet = pq.ParquetFile(store.open_input(path))
        for batch in parquet.iter_batches(batch_size=_ARROW_BATCH_ROWS, columns=_READ_COLUMNS):
            batch = _filter(batch, sources, min_confidence)
            if batch.num_rows == 0:
                continue
            pngs = pc.struct_field(batch.column("image"), "bytes").to_numpy(zero_copy_only=False)
            labels = batch.column("label").to_numpy(zero_copy_only=False).astype(np.int64)
            yield pngs, labels


def _shuffle_buffer(
    chunks: Iterator[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator, size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A shuffle buffer of ``size`` rows, a chunk at a time: each row out is drawn uniformly from the buffer.

    Equivalent to ``tf.data.Dataset.shuffle(size)`` row by row, but in numpy over whole chunks,
    so no per-row work reaches tf.data. Only PNG bytes and labels are held (~0.3 kB a row).
    """
    pool_pngs, pool_labels = np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    for pngs, labels in chunks:
        pool_pngs, pool_labels = np.concatenate([pool_pngs, pngs]), np.concatenate([pool_labels, labels])
        surplus = len(pool_labels) - size
        if surplus > 0:
            out = rng.choice(len(pool_labels), size=surplus, replace=False)
            keep = np.ones(len(pool_labels), dtype=bool)
            keep[out] = False
            yield pool_pngs[out], pool_labels[out]
            pool_pngs, pool_labels = pool_pngs[keep], pool_labels[keep]
    order = rng.permutation(len(pool_labels))
    if len(order):
        yield pool_pngs[order], pool_labels[order]


def _rebatch(
    chunks: Iterator[tuple[np.ndarray, np.ndarray]], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Cuts chunks of any length into batches of ``batch_size`` rows; the last one holds the rest."""
    pending_pngs, pending_labels = [], []
    held = 0
    for pngs, labels in chunks:
        pending_pngs.append(pngs)
        pending_labels.append(labels)
        held += len(labels)
        if held < batch_size:
            continue
        all_pngs, all_labels = np.concatenate(pending_pngs), np.concatenate(pending_labels)
        cut = held - held % batch_size
        for start in range(0, cut, batch_size):
            yield all_pngs[start : start + batch_size], all_labels[start : start + batch_size]
        pending_pngs, pending_labels, held = [all_pngs[cut:]], [all_labels[cut:]], held - cut
    if held:
        yield np.concatenate(pending_pngs), np.concatenate(pending_labels)


def _known_rows(manifest: dict, split: str, sources: tuple[str, ...], min_confidence: float | None) -> int | None:
    if min_confidence is not None:
        return None
    per_source = manifest["rows_per_split_source"][split]
    return sum(per_source.get(source, 0) for source in sources)


def _check_mix(
    manifest: dict, split: str, sources: tuple[str, ...], real_share: object, repeat: bool, version_dir: Target
) -> None:
    number = isinstance(real_share, (int, float)) and not isinstance(real_share, bool)
    if not (number and 0 < real_share < 1):
        raise ValueError(f"real_share must be None or a number strictly between 0 and 1, got {real_share!r}")
    if set(sources) != set(SOURCES):
        raise ValueError(f"real_share mixes real and synthetic rows, so sources must be both, got {sources!r}")
    if not repeat:
        raise ValueError(
            "a dataset mixed by real_share repeats forever: pass repeat=True and size epochs with steps_per_epoch"
        )
    per_source = manifest["rows_per_split_source"][split]
    missing = [source for source in SOURCES if not per_source.get(source)]
    if missing:
        raise ValueError(
            f"{version_dir} has no {' or '.join(missing)} rows in split {split!r}, so real_share cannot mix them: "
            "publish with include_real=true, or mix your own real data with tf.data.Dataset.sample_from_datasets"
        )


def make_dataset(
    version_dir: Target,
    split: str = "train",
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 0,
    sources: Sequence[str] = ("real", "synthetic"),
    min_confidence: float | None = None,
    repeat: bool = False,
    shuffle_buffer: int = 10_000,
    real_share: float | None = None,
    check_integrity: bool = True,
) -> tf.data.Dataset:
    """Builds a tf.data pipeline over one split of a published version.

    Args:
        version_dir: A version directory, or a dataset directory (its LATEST is used); a local
            path or an ``s3://`` URL.
        split: Split to read.
        batch_size: Examples per batch; the last batch may be smaller.
        shuffle: Shuffle shard order and rows (buffer of ``shuffle_buffer`` rows), reshuffled
            every epoch; deterministic for a given ``seed``.
        seed: Seed for both shuffles.
        sources: Which rows to keep: "real", "synthetic" or both.
        min_confidence: If set, drop synthetic rows whose judge confidence is below it (or
            missing); real rows are kept.
        repeat: Repeat forever (epochs stay whole: shuffle happens before repeat).
        shuffle_buffer: Rows held in the shuffle buffer (as PNG bytes, about 0.3 kB each).
        real_share: If set, draw every row from the real rows with this probability and from
            the synthetic rows otherwise, so a small real set is not drowned by thousands of
            samples (the utility benchmark mixes at 0.5). The dataset then repeats forever:
            needs ``repeat=True`` and both sources (publish with ``include_real``).
        check_integrity: Re-hash every shard against the manifest first (``verify``), so a
            tampered, truncated or incomplete version fails here with the bad file named,
            not halfway through an epoch. About 30 ms per 10 MB shard.

    Returns:
        Dataset of ``(images float32 (B, H, W, C) in [0, 1], labels int64 (B,))``; (H, W, C) is the
        manifest's ``image_shape`` (C 1 for grayscale, 3 for RGB).

    Raises:
        ValueError: Unknown split or source, or a bad argument.
        FileNotFoundError: ``version_dir`` holds no published version.
        PublishError: The version fails verification (``check_integrity``).
    """
    version_dir = _version_dir(version_dir)
    if check_integrity:
        verify(version_dir)
    manifest = read_manifest(version_dir)
    _check_split(manifest, split, version_dir)
    sources = _check_filters(sources, min_confidence)
    for name, value in (("batch_size", batch_size), ("shuffle_buffer", shuffle_buffer)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    paths = shard_paths(version_dir, split)
    height, width, channels = image_shape(manifest)

    def stream(wanted: tuple[str, ...], stream_seed: int, rows_per_batch: int | None) -> tf.data.Dataset:
        """(PNG bytes, labels) of ``wanted`` sources, shuffled if asked, epoch after epoch if ``repeat``.

        Shuffling and batching happen in numpy on whole Arrow batches, so tf.data sees one element
        per batch (``rows_per_batch``), or one per Arrow batch for a mix that unbatches them.
        """
        rng = np.random.default_rng(stream_seed)  # shared by every epoch: each gets a new order

        def epochs() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            while True:
                ordered = [paths[i] for i in rng.permutation(len(paths))] if shuffle else paths
                chunks = _iter_rows(ordered, wanted, min_confidence)
                empty = True
                for chunk in _shuffle_buffer(chunks, rng, shuffle_buffer) if shuffle else chunks:
                    empty = False
                    yield chunk
                if empty or not repeat:  # an empty selection must not spin forever
                    return

        def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            # Batches run on across epochs when repeating, as ``.repeat().batch()`` would.
            return _rebatch(epochs(), rows_per_batch) if rows_per_batch else epochs()

        dataset = tf.data.Dataset.from_generator(
            generate,
            output_signature=(
                tf.TensorSpec(shape=(None,), dtype=tf.string),
                tf.TensorSpec(shape=(None,), dtype=tf.int64),
            ),
        )
        known = _known_rows(manifest, split, wanted, min_confidence)
        if repeat and known != 0:
            # Keras then asks for steps_per_epoch instead of waiting for an epoch that never ends.
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
        elif known is not None and rows_per_batch:
            # Lets Keras show progress and size epochs; also fails loudly if shards and manifest disagree.
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(math.ceil(known / rows_per_batch)))
        return dataset

    if real_share is None:
        dataset = stream(sources, seed, batch_size)
    else:
        _check_mix(manifest, split, sources, real_share, repeat, version_dir)
        # Each source repeats on its own, so the small real set is revisited as often as the
        # share needs; every draw is real with probability real_share.
        dataset = tf.data.Dataset.sample_from_datasets(
            [stream(("real",), seed, None).unbatch(), stream(("synthetic",), seed + 1, None).unbatch()],
            weights=[real_share, 1.0 - real_share],
            seed=seed,
        ).batch(batch_size)

    image_spec = tf.TensorSpec(shape=(height, width, channels), dtype=tf.uint8)

    def decode(pngs: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # One map call per batch, several batches at once. Shuffling and batching rows in numpy
        # instead of tf.data (an unbatch, a shuffle and a batch per row) read ~1.2x faster
        # (benchmarks/generation_scale.py --read, README "Loader throughput").
        images = tf.map_fn(lambda png: tf.io.decode_png(png, channels=channels), pngs, fn_output_signature=image_spec)
        return tf.cast(images, tf.float32) / 255.0, labels

    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def load_numpy(
    version_dir: Target,
    split: str,
    sources: Sequence[str] = ("real", "synthetic"),
    min_confidence: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Reads a whole split into memory, in shard order (for tests and small data).

    Args:
        version_dir: A version directory, or a dataset directory (its LATEST is used); a local
            path or an ``s3://`` URL.
        split: Split to read.
        sources: Which rows to keep, as in ``make_dataset``.
        min_confidence: Confidence filter for synthetic rows, as in ``make_dataset``.

    Returns:
        ``(images uint8 (N, H, W, C), labels int64 (N,))``, (H, W, C) from the manifest.
    """
    version_dir = _version_dir(version_dir)
    manifest = read_manifest(version_dir)
    _check_split(manifest, split, version_dir)
    sources = _check_filters(sources, min_confidence)
    shape = image_shape(manifest)
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for pngs, batch_labels in _iter_rows(shard_paths(version_dir, split), sources, min_confidence):
        images.extend(decode_png(png, shape[2]) for png in pngs)
        labels.append(batch_labels)
    if not images:
        return np.zeros((0, *shape), np.uint8), np.zeros((0,), np.int64)
    return np.stack(images), np.concatenate(labels)
