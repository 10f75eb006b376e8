"""Tests for gan_core.data: IDX parsing, the bundled sample, sources, subsets and snapshots."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from gan_core import data
from gan_core.config import DataConfig
from gan_core.data import DataError, LabeledSplits

README_TRAIN_COUNTS = [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]
README_TEST_COUNTS = [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]


# --- helpers: an independent IDX writer, so the reader is checked against the format itself ---


def _write(path: Path, payload: bytes, compress: bool) -> Path:
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def write_images(path: Path, images: np.ndarray, *, compress: bool = False, magic: int = 2051,
                 count: int | None = None, extra: bytes = b"", cut: int = 0) -> Path:
    count = len(images) if count is None else count
    payload = struct.pack(">iiii", magic, count, images.shape[1], images.shape[2]) + images.tobytes() + extra
    return _write(path, payload[: len(payload) - cut], compress)


def write_labels(path: Path, labels: np.ndarray, *, compress: bool = False, magic: int = 2049,
                 extra: bytes = b"", cut: int = 0) -> Path:
    payload = struct.pack(">ii", magic, len(labels)) + np.asarray(labels, dtype=np.uint8).tobytes() + extra
    return _write(path, payload[: len(payload) - cut], compress)


def random_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = np.arange(count, dtype=np.int64) % 10
    return images, labels


def write_idx_dir(directory: Path, *, compress: bool, names: str = "mnist") -> tuple[LabeledSplits, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = random_digits(30, seed=1)
    test_images, test_labels = random_digits(12, seed=2)
    suffix = ".gz" if compress else ""
    if names == "mnist":
        stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte")
    else:  # the 'test' + '.idx3-ubyte' spelling some mirrors use
        stems = ("train-images.idx3-ubyte", "train-labels.idx1-ubyte", "test-images.idx3-ubyte",
                 "test-labels.idx1-ubyte")
    write_images(directory / (stems[0] + suffix), train_images, compress=compress)
    write_labels(directory / (stems[1] + suffix), train_labels, compress=compress)
    write_images(directory / (stems[2] + suffix), test_images, compress=compress)
    write_labels(directory / (stems[3] + suffix), test_labels, compress=compress)
    expected = LabeledSplits(train_images, train_labels, test_images, test_labels,
                             data.MNIST_CLASS_NAMES, "expected")
    return expected, directory


@pytest.fixture(scope="module")
def sample() -> LabeledSplits:
    return data.load_bundled_sample()


# --- IDX reading ---


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    images, labels = random_digits(17, seed=3)
    suffix = ".gz" if compress else ""
    read_images = data.read_idx_images(write_images(tmp_path / f"img{suffix}", images, compress=compress))
    read_labels = data.read_idx_labels(write_labels(tmp_path / f"lbl{suffix}", labels, compress=compress))
    assert read_images.dtype == np.uint8 and read_images.shape == (17, 28, 28)
    assert read_labels.dtype == np.int64
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    read_images[0, 0, 0] ^= 1  # the result is a writable copy, not a view of the file bytes


@pytest.mark.parametrize(("compress", "names"), [(True, "mnist"), (False, "mnist"), (False, "test"), (True, "test")])
def test_read_idx_dir_accepts_naming_variants(tmp_path, compress, names):
    expected, directory = write_idx_dir(tmp_path / "idx", compress=compress, names=names)
    splits = data.read_idx_dir(directory)
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(splits, field), getattr(expected, field))
    assert splits.class_names == tuple("0123456789")
    assert splits.source_used == f"idx:{directory.resolve()}"


@pytest.mark.parametrize(
    ("writer", "fragments"),
    [
        (lambda p, i, l: write_images(p, i, magic=2049), ["bad magic number 2049", "swap"]),
        (lambda p, i, l: write_images(p, np.zeros((3, 32, 32), np.uint8)), ["32x32", "28x28"]),
        (lambda p, i, l: write_images(p, i, cut=1), ["truncated", "re-download"]),
        (lambda p, i, l: write_images(p, i, compress=True, cut=5), ["truncated", "re-download"]),
        (lambda p, i, l: write_images(p, i, extra=b"\0\0"), ["2 trailing bytes"]),
        (lambda p, i, l: write_images(p, i, count=4), ["trailing bytes"]),
        (lambda p, i, l: _write(p, b"\0\0\x08\x03", False), ["too short"]),
        (lambda p, i, l: _write(p, b"\x1f\x8bnot really gzip", False), ["gzip", "re-download"]),
    ],
    ids=["magic", "dims", "truncated", "truncated-gz", "trailing", "count-too-small", "short-header", "bad-gzip"],
)
def test_read_idx_images_errors(tmp_path, writer, fragments):
    images, labels = random_digits(5, seed=4)
    path = writer(tmp_path / "bad-images", images, labels)
    with pytest.raises(DataError) as raised:
        data.read_idx_images(path)
    message = str(raised.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("writer", "fragments"),
    [
        (lambda p, l: write_labels(p, l, magic=2051), ["bad magic number 2051", "2049"]),
        (lambda p, l: write_labels(p, l, cut=2), ["truncated"]),
        (lambda p, l: write_labels(p, l, extra=b"\x01"), ["1 trailing bytes"]),
        (lambda p, l: write_labels(p, np.array([0, 3, 10, 12, 1])), ["outside 0..9", "label 10 at index 2"]),
    ],
    ids=["magic", "truncated", "trailing", "out-of-range"],
)
def test_read_idx_labels_errors(tmp_path, writer, fragments):
    path = writer(tmp_path / "bad-labels", np.arange(5) % 10)
    with pytest.raises(DataError) as raised:
        data.read_idx_labels(path)
    assert str(path) in str(raised.value)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_read_idx_dir_count_mismatch(tmp_path):
    _, directory = write_idx_dir(tmp_path / "idx", compress=False)
    write_labels(directory / "train-labels-idx1-ubyte", np.arange(29) % 10)
    with pytest.raises(DataError, match=r"30 images but .* 29 labels"):
        data.read_idx_dir(directory)


def test_read_idx_dir_missing_file_lists_expected_names(tmp_path):
    _, directory = write_idx_dir(tmp_path / "idx", compress=True)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as raised:
        data.read_idx_dir(directory)
    message = str(raised.value)
    assert "test labels" in message and "t10k-labels-idx1-ubyte[.gz]" in message
    assert "train images" not in message.split("Expected")[0]  # only the missing role is blamed
    with pytest.raises(DataError, match="does not exist"):
        data.read_idx_dir(tmp_path / "nowhere")


def test_labeled_splits_validates():
    images, labels = random_digits(4, seed=5)
    with pytest.raises(DataError, match="uint8"):
        LabeledSplits(images.astype(np.float32), labels, images, labels, data.MNIST_CLASS_NAMES, "x")
    # Any integer labels pass the shared check and are stored as int64.
    widened = LabeledSplits(images, labels.astype(np.int32), images, labels, data.MNIST_CLASS_NAMES, "x")
    assert widened.train_labels.dtype == np.int64
    with pytest.raises(DataError, match="integer array"):
        LabeledSplits(images, labels.astype(np.float32), images, labels, data.MNIST_CLASS_NAMES, "x")
    with pytest.raises(DataError, match="outside 0..2"):
        LabeledSplits(images, labels, images, labels, ("a", "b", "c"), "x")
    with pytest.raises(DataError, match=r"test_labels must be an integer array of shape \(4,\)"):
        LabeledSplits(images, labels, images, labels[:3], data.MNIST_CLASS_NAMES, "x")
    with pytest.raises(DataError, match="empty"):
        LabeledSplits(images[:0], labels[:0], images, labels, data.MNIST_CLASS_NAMES, "x")


# --- bundled sample ---


def test_bundled_sample_matches_readme(sample):
    assert sample.train_images.shape == (8000, 28, 28) and sample.test_images.shape == (2000, 28, 28)
    assert sample.class_counts("train").tolist() == README_TRAIN_COUNTS
    assert sample.class_counts("test").tolist() == README_TEST_COUNTS
    assert sample.source_used == "sample:mnist-sample"
    assert sample.class_names == tuple("0123456789")
    # Real digits: mostly-black background with bright strokes, unlike random noise.
    assert 20 < sample.train_images.mean() < 50 and sample.train_images.max() == 255


def test_bundled_sample_corruption_detected(tmp_path):
    copy = tmp_path / "mnist-sample"
    shutil.copytree(data.SAMPLE_DIR, copy)
    assert data.load_bundled_sample(copy).train_images.shape == (8000, 28, 28)
    target = copy / "train-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz is corrupt: sha256 .*Reinstall"):
        data.load_bundled_sample(copy)
    (copy / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as raised:
        data.load_bundled_sample(copy)
    assert "t10k-images-idx3-ubyte.gz is missing" in str(raised.value)
    assert "train-labels-idx1-ubyte.gz is corrupt" in str(raised.value)  # every problem, at once


# --- stratified subset ---


def test_stratified_subset_proportional_and_deterministic(sample):
    images, labels = sample.train_images, sample.train_labels
    sub_images, sub_labels = data.stratified_subset(images, labels, 1000, seed=7)
    assert len(sub_images) == len(sub_labels) == 1000
    quotas = np.bincount(labels) * 1000 / len(labels)
    assert np.all(np.abs(np.bincount(sub_labels, minlength=10) - quotas) < 1)
    # Each chosen row is a real (image, label) pair from the input.
    originals = {(row.tobytes(), int(label)) for row, label in zip(images, labels)}
    assert all((row.tobytes(), int(label)) in originals for row, label in zip(sub_images, sub_labels))
    again = data.stratified_subset(images, labels, 1000, seed=7)
    np.testing.assert_array_equal(again[0], sub_images)
    other = data.stratified_subset(images, labels, 1000, seed=8)
    assert not np.array_equal(other[0], sub_images)
    np.testing.assert_array_equal(np.bincount(other[1]), np.bincount(sub_labels))


def test_stratified_subset_edges():
    images, _ = random_digits(1000, seed=6)
    labels = np.zeros(1000, dtype=np.int64)
    labels[:3] = [1, 2, 3]  # three rare classes must still get a row each
    _, sub = data.stratified_subset(images, labels, 10, seed=0)
    assert len(sub) == 10 and set(np.unique(sub)) == {0, 1, 2, 3}
    assert np.bincount(sub).tolist() == [7, 1, 1, 1]
    full = data.stratified_subset(images, labels, 5000, seed=0)
    assert full[0] is images and full[1] is labels
    with pytest.raises(DataError, match="smaller than the 4 classes"):
        data.stratified_subset(images, labels, 3, seed=0)
    with pytest.raises(DataError, match="positive integer"):
        data.stratified_subset(images, labels, 0, seed=0)


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
        via_idx.train_images[::-1].copy(), via_idx.train_labels[::-1].copy(), via_idx.test_images,
        via_idx.test_labels, via_idx.class_names, via_idx.source_used,
    )
    assert data.write_snapshot(reversed_splits, tmp_path / "other", 500, seed=0).fingerprint == first.fingerprint
    assert data.write_snapshot(sample, cache, real_labeled_limit=501, seed=0).fingerprint != first.fingerprint
    assert data.write_snapshot(sample, cache, real_labeled_limit=500, seed=1).fingerprint != first.fingerprint

    snapshot, loaded = data.load_snapshot(first.path)
    assert snapshot == first
    assert loaded.train_images.shape == (500, 28, 28) and loaded.class_counts("train").sum() == 500
    assert loaded.source_used == "sample:mnist-sample"


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


# --- sources ---


def test_load_source_explicit_idx(tmp_path):
    expected, directory = write_idx_dir(tmp_path / "idx", compress=True)
    splits = data.load_source(DataConfig(source=f"idx:{directory}"), network_check=lambda: pytest.fail("no network"))
    np.testing.assert_array_equal(splits.train_images, expected.train_images)
    assert splits.source_used == f"idx:{directory.resolve()}"
    with pytest.raises(DataError, match="does not exist"):  # explicit: no fallback to the sample
        data.load_source(DataConfig(source=f"idx:{tmp_path / 'missing'}"))


def test_auto_falls_back_to_sample_when_offline(tmp_path, caplog):
    calls = []

    def offline() -> bool:
        calls.append(1)
        return False

    config = DataConfig(source="auto", data_dir=tmp_path / "tfds")
    with caplog.at_level(logging.WARNING, logger="gan_core.data"):
        splits = data.load_source(config, network_check=offline)
    assert calls == [1]
    assert splits.source_used == "sample:mnist-sample" and len(splits.train_labels) == 8000
    warning = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "gan_core.data"]
    assert len(warning) == 1 and "FALLBACK" in warning[0].getMessage()
    assert "offline" in warning[0].getMessage() and "tfds:mnist" in warning[0].getMessage()


def test_explicit_tfds_offline_never_falls_back(tmp_path):
    config = DataConfig(source="tfds:mnist", data_dir=tmp_path / "tfds")
    with pytest.raises(DataError, match=r"offline.*source='sample'.*idx:"):
        data.load_source(config, network_check=lambda: False)
    assert data.is_tfds_prepared("mnist", tmp_path / "tfds") is False
    with pytest.raises(DataError, match="not prepared"):
        data.load_tfds("mnist", data_dir=tmp_path / "tfds")


def test_tfds_rejects_unsupported_and_unknown_builders(tmp_path):
    with pytest.raises(DataError, match="only 28x28 grayscale classification"):
        data.load_tfds("cifar10", data_dir=tmp_path)
    with pytest.raises(DataError, match="only 28x28 grayscale classification"):
        data.load_source(DataConfig(source="tfds:cifar10", data_dir=tmp_path), network_check=lambda: False)
    with pytest.raises(DataError, match="no builder named 'no_such_dataset_xyz'"):
        data.load_tfds("no_such_dataset_xyz", data_dir=tmp_path)


def test_tfds_path_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=37):
        splits = data.load_tfds("mnist", data_dir=tmp_path, download=True)
        assert splits.train_images.shape == (37, 28, 28) and splits.test_images.shape == (37, 28, 28)
        assert splits.train_images.dtype == np.uint8 and splits.train_labels.dtype == np.int64
        assert splits.train_labels.min() >= 0 and splits.train_labels.max() <= 9
        assert splits.class_names == tuple("0123456789") and splits.source_used == "tfds:mnist"
        # 'auto' with the network up takes the tfds download route (a no-op under the mock).
        snapshot = data.ingest(DataConfig(source="auto", data_dir=tmp_path, real_labeled_limit=20),
                               tmp_path / "cache", network_check=lambda: True)
    assert snapshot.source_used == "tfds:mnist" and snapshot.counts["train"]["total"] == 20
    assert snapshot.counts["test"]["total"] == 37
    _, loaded = data.load_snapshot(snapshot.path)
    assert loaded.class_names == splits.class_names


# --- network check ---


def test_network_available_real_sockets():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert data.network_available("127.0.0.1", server.getsockname()[1], timeout=2.0) is True
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    assert data.network_available("127.0.0.1", closed_port, timeout=2.0) is False
    started = time.monotonic()
    assert data.network_available("host.invalid", 443, timeout=2.0) is False
    assert time.monotonic() - started < 3.0
