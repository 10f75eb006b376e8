"""IDX files: the parser against the format itself, naming variants, errors, and any image size."""

from __future__ import annotations

import numpy as np
import pytest

from gan_core import data
from gan_core.data import DataError
from tests.gan_core.data.builders import _write, random_digits, write_idx_dir, write_images, write_labels


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    images, labels = random_digits(17, seed=3)
    suffix = ".gz" if compress else ""
    read_images = data.read_idx_images(write_images(tmp_path / f"img{suffix}", images, compress=compress))
    read_labels = data.read_idx_labels(write_labels(tmp_path / f"lbl{suffix}", labels, compress=compress))
    assert read_images.dtype == np.uint8 and read_images.shape == (17, 28, 28, 1)
    assert read_labels.dtype == np.int64
    np.testing.assert_array_equal(read_images[..., 0], images)
    np.testing.assert_array_equal(read_labels, labels)
    read_images[0, 0, 0] ^= 1  # the result is a writable copy, not a view of the file bytes


@pytest.mark.parametrize(("compress", "names"), [(True, "mnist"), (False, "mnist"), (False, "test"), (True, "test")])
def test_read_idx_dir_accepts_naming_variants(tmp_path, compress, names):
    expected, directory = write_idx_dir(tmp_path / "idx", compress=compress, names=names)
    splits = data.read_idx_dir(directory)
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(splits, field), getattr(expected, field))
    assert splits.class_names == tuple("0123456789") and splits.image_shape == (28, 28, 1)
    assert splits.source_used == f"idx:{directory.resolve()}" and splits.split["method"] == "given"


def test_idx_of_another_size_is_data_and_follows_the_geometry_rules(tmp_path):
    _, directory = write_idx_dir(tmp_path / "idx32", compress=False, side=32)
    assert data.read_idx_dir(directory).image_shape == (32, 32, 1)
    resized = data.read_idx_dir(directory, image_size=16, channels=3)
    assert resized.train_images.shape == (30, 16, 16, 3)
    _, small = write_idx_dir(tmp_path / "idx8", compress=False, side=8)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: images are 8x8 \(outside 16-64 px\).*--image-size"):
        data.read_idx_dir(small)
    assert data.read_idx_dir(small, image_size=16).image_shape == (16, 16, 1)
    write_images(directory / "t10k-images-idx3-ubyte", random_digits(12, seed=2, side=20)[0])
    with pytest.raises(DataError, match=r"images differ in size: .*train-images-idx3-ubyte is 32x32 but .*t10k-images"):
        data.read_idx_dir(directory)


@pytest.mark.parametrize(
    ("writer", "fragments"),
    [
        (lambda p, i, l: write_images(p, i, magic=2049), ["bad magic number 2049", "swap"]),
        (lambda p, i, l: write_images(p, np.zeros((3, 0, 28), np.uint8)), ["0x28", "re-download"]),
        (lambda p, i, l: write_images(p, i, cut=1), ["truncated", "re-download"]),
        (lambda p, i, l: write_images(p, i, compress=True, cut=5), ["truncated", "re-download"]),
        (lambda p, i, l: write_images(p, i, extra=b"\0\0"), ["2 trailing bytes"]),
        (lambda p, i, l: write_images(p, i, count=4), ["trailing bytes"]),
        (lambda p, i, l: _write(p, b"\0\0\x08\x03", False), ["too short"]),
        (lambda p, i, l: _write(p, b"\x1f\x8bnot really gzip", False), ["gzip", "re-download"]),
    ],
    ids=[
        "magic",
        "empty-dimension",
        "truncated",
        "truncated-gz",
        "trailing",
        "count-too-small",
        "short-header",
        "bad-gzip",
    ],
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
