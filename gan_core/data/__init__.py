"""Real labeled images in, a content-fingerprinted snapshot out.

Every route ends in uint8 ``(N, H, W, C)`` images, square with a side of 16-64 px and 1 or 3
channels. Modules: ``splits`` (the validated :class:`LabeledSplits`), ``images`` (decoding and
converting one image, and the geometry rules every route follows), ``folder`` (class folders,
``folder:<dir>``), ``parquet`` (Hugging Face image datasets in Parquet, ``parquet:<path>``), ``idx``
(MNIST-format IDX parser), ``tfds_source`` (tensorflow-datasets adapter, TensorFlow imported
lazily), ``labeled`` (decode listed images into train/test), ``sources`` (the bundled sample, the
network probe, source dispatch), ``subset`` (stratified ``real_labeled_limit``, the label-blind
split, the seeded test holdout), ``snapshot`` (the snapshot store and the :func:`ingest` step),
``unlabeled`` (unlabeled image sources for the label-scarce pool) and ``stage`` (the flow's ingest
step with its typed result). This package re-exports the public names, so ``from gan_core import
data`` is enough; importing it never imports TensorFlow.
"""

from gan_core.data.folder import load_folder, scan_folder
from gan_core.data.idx import read_idx_dir, read_idx_images, read_idx_labels
from gan_core.data.images import IMAGE_SUFFIXES, decode_images
from gan_core.data.parquet import load_parquet
from gan_core.data.snapshot import POOL_FILE, Snapshot, ingest, load_pool, load_snapshot, write_snapshot
from gan_core.data.sources import (
    SAMPLE_DIR,
    SAMPLE_SHA256,
    SAMPLE_SOURCE,
    describe_source,
    load_bundled_sample,
    load_source,
    network_available,
)
from gan_core.data.splits import IMAGE_SIDE, MNIST_CLASS_NAMES, DataError, LabeledSplits
from gan_core.data.subset import label_blind_split, stratified_holdout, stratified_subset
from gan_core.data.tfds_source import is_tfds_prepared, load_tfds
from gan_core.data.unlabeled import check_unlabeled_source, read_unlabeled_source

__all__ = [
    "IMAGE_SIDE",
    "IMAGE_SUFFIXES",
    "MNIST_CLASS_NAMES",
    "POOL_FILE",
    "SAMPLE_DIR",
    "SAMPLE_SHA256",
    "SAMPLE_SOURCE",
    "DataError",
    "LabeledSplits",
    "Snapshot",
    "check_unlabeled_source",
    "decode_images",
    "describe_source",
    "ingest",
    "is_tfds_prepared",
    "label_blind_split",
    "load_bundled_sample",
    "load_folder",
    "load_parquet",
    "load_pool",
    "load_snapshot",
    "load_source",
    "load_tfds",
    "network_available",
    "read_idx_dir",
    "read_idx_images",
    "read_idx_labels",
    "read_unlabeled_source",
    "scan_folder",
    "stratified_holdout",
    "stratified_subset",
    "write_snapshot",
]
