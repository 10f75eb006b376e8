"""Snapshots: content order and fingerprints, meta.json (image_shape, split), verification, memory."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging

import numpy as np
import pytest

from gan_core import data
from gan_core.data import DataError, LabeledSplits
from gan_core.data import snapshot as snapshot_module
from gan_core.data.snapshot import permute_rows_in_place
from gan_core.io.fsutil import npz_bytes
from tests.gan_core.data.builders import random_digits, write_idx_dir

README_TEST_COUNTS = [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]


@pytest.fixture(scope="module")
def sample() -> LabeledSplits:
    return data.load_bundled_sample()


# --- snapshots ---


def test_snapshot_stable_idempotent_and_route_independent(tmp_path, sample, caplog):
    cache = tmp_path / "cache"
    first = data.write_snapshot(sample, cache, real_labeled_limit=500, seed=0)
    assert first.path == cache / "snapshots" / first.fingerprint[:16]
    assert first.counts["train"]["total"] == 500 and first.counts["test"]["total"] == 2000
    assert first.counts["test"]["per_class"] == dict(zip("0123456789", README_TEST_COUNTS))
    meta = json.loads((first.path / "meta.json").read_text())
    assert meta["fingerprint"] == first.fingerprint and meta["source_used"] == "sample:mnist-sample"
    assert meta["real_labeled_limit"] == 500 and meta["class_names"] == list("0123456789")
    assert meta["format_version"] == 2 and meta["image_shape"] == [28, 28, 1]
    assert meta["split"] == {"method": "given", "test_split": "test", "test_fraction": None, "seed": None}
    assert sorted(p.name for p in first.path.iterdir()) == ["arrays.npz", "meta.json"]

    created = meta["created_at"]
    with caplog.at_level(logging.INFO, logger="gan_core.data"):
        second = data.write_snapshot(sample, cache, real_labeled_limit=500, seed=0)
    assert second == first and "reusing" in caplog.text
    assert json.loads((first.path / "meta.json").read_text())["created_at"] == created

    # The same digits read through another route, in another row order, hash the same.
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    for name in data.SAMPLE_SHA256:
        (idx_dir / name.removesuffix(".gz")).write_bytes(gzip.decompress((data.SAMPLE_DIR / name).read_bytes()))
    via_idx = data.read_idx_dir(idx_dir)
    reversed_splits = LabeledSplits(
        via_idx.train_images[::-1].copy(),
        via_idx.train_labels[::-1].copy(),
        via_idx.test_images,
        via_idx.test_labels,
        via_idx.class_names,
        via_idx.source_used,
    )
    assert data.write_snapshot(reversed_splits, tmp_path / "other", 500, seed=0).fingerprint == first.fingerprint
    assert data.write_snapshot(sample, cache, real_labeled_limit=501, seed=0).fingerprint != first.fingerprint
    assert data.write_snapshot(sample, cache, real_labeled_limit=500, seed=1).fingerprint != first.fingerprint

    snapshot, loaded = data.load_snapshot(first.path)
    assert snapshot == first
    assert loaded.train_images.shape == (500, 28, 28, 1) and loaded.class_counts("train").sum() == 500
    assert loaded.source_used == "sample:mnist-sample" and loaded.split == first.split
    assert snapshot.image_shape == (28, 28, 1)
    # The streamed arrays.npz holds exactly npz_bytes' bytes (the sha in meta.json is a content hash).
    arrays = {key: getattr(loaded, key) for key in ("test_images", "test_labels", "train_images", "train_labels")}
    assert hashlib.sha256(npz_bytes(arrays)).hexdigest() == meta["npz_sha256"]


def test_snapshot_corruption_detected(tmp_path):
    expected, directory = write_idx_dir(tmp_path / "idx", compress=False)
    splits = data.read_idx_dir(directory)
    snapshot = data.write_snapshot(splits, tmp_path / "cache", real_labeled_limit=None, seed=0)
    npz = snapshot.path / "arrays.npz"
    raw = bytearray(npz.read_bytes())
    raw[-100] ^= 0xFF
    npz.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=rf"snapshot corrupt: .*delete {snapshot.path}"):
        data.load_snapshot(snapshot.path)
    # Re-ingesting the same data must not silently reuse or overwrite the damaged directory.
    with pytest.raises(DataError, match="snapshot corrupt"):
        data.write_snapshot(splits, tmp_path / "cache", real_labeled_limit=None, seed=0)
    (snapshot.path / "meta.json").write_text("{not json")
    with pytest.raises(DataError, match="meta.json is unreadable"):
        data.load_snapshot(snapshot.path)


def test_rgb_snapshot_records_shape_and_seeded_split(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(20) % 4
    split = {"method": "seeded-stratified", "test_split": None, "test_fraction": 0.25, "seed": 9}
    splits = LabeledSplits(images[:15], labels[:15], images[15:], labels[15:], tuple("abcd"), "folder:/x", split)
    snapshot = data.write_snapshot(splits, tmp_path, None, 0)
    meta = json.loads((snapshot.path / "meta.json").read_text())
    assert meta["image_shape"] == [32, 32, 3] and meta["split"] == split
    assert snapshot.image_shape == (32, 32, 3) and snapshot.split == split
    loaded_snapshot, loaded = data.load_snapshot(snapshot.path)
    assert loaded.train_images.shape == (15, 32, 32, 3) and loaded_snapshot == snapshot


def test_in_place_writing_reorders_the_callers_arrays_consistently(tmp_path, sample):
    copy = LabeledSplits(
        sample.train_images.copy(),
        sample.train_labels.copy(),
        sample.test_images.copy(),
        sample.test_labels.copy(),
        sample.class_names,
        sample.source_used,
    )
    pairs = {(image.tobytes(), int(label)) for image, label in zip(copy.train_images, copy.train_labels)}
    in_place = data.write_snapshot(copy, tmp_path / "a", None, 0, in_place=True)
    assert in_place.fingerprint == data.write_snapshot(sample, tmp_path / "b", None, 0).fingerprint
    assert {(image.tobytes(), int(label)) for image, label in zip(copy.train_images, copy.train_labels)} == pairs
    assert not np.array_equal(copy.train_images, sample.train_images)  # reordered, not copied


@pytest.mark.parametrize("seed", range(4))
def test_permute_rows_in_place_equals_fancy_indexing(seed):
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (257, 3, 2), dtype=np.uint8)
    order = rng.permutation(257)
    expected = array[order]
    permute_rows_in_place(array, order)
    assert np.array_equal(array, expected)


def test_an_absent_class_is_refused_before_anything_is_written(tmp_path):
    images, labels = random_digits(20, seed=1)
    labels = np.where(labels == 3, 4, labels)  # no digit 3 in train
    splits = LabeledSplits(images, labels, images, random_digits(20, 1)[1], data.MNIST_CLASS_NAMES, "x")
    with pytest.raises(DataError, match=r"no images of class\(es\) \['3'\]"):
        data.write_snapshot(splits, tmp_path, None, 0, require_every_class=True)
    assert not (tmp_path / "snapshots").exists()


def test_format_1_snapshots_still_load_and_newer_ones_are_refused(tmp_path):
    images, labels = random_digits(20, seed=2)
    arrays = {"train_images": images, "train_labels": labels, "test_images": images[:5], "test_labels": labels[:5]}
    fingerprint = snapshot_module._fingerprint(arrays, data.MNIST_CLASS_NAMES, None, version=1)
    old = tmp_path / "old"
    old.mkdir()
    (old / "arrays.npz").write_bytes(npz_bytes(arrays))
    meta = {
        "format_version": 1,
        "fingerprint": fingerprint,
        "source_used": "idx:/x",
        "class_names": list("0123456789"),
        "counts": {},
        "npz_sha256": hashlib.sha256(npz_bytes(arrays)).hexdigest(),
    }
    (old / "meta.json").write_text(json.dumps(meta))
    snapshot, splits = data.load_snapshot(old)
    assert splits.train_images.shape == (20, 28, 28, 1) and snapshot.image_shape == (28, 28, 1)
    assert snapshot.split["method"] == "given"
    (old / "meta.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(DataError, match="format 99, newer than this gan_core reads"):
        data.load_snapshot(old)
