"""Source dispatch, the bundled sample, 'auto' and its network probe, and LabeledSplits' checks."""

from __future__ import annotations

import logging
import shutil
import socket
import threading

import numpy as np
import pytest

from gan_core import data
from gan_core.config import DataConfig
from gan_core.data import DataError, LabeledSplits
from gan_core.data import sources as sources_module
from tests.gan_core.data.builders import class_folder, random_digits, write_idx_dir

README_TRAIN_COUNTS = [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]
README_TEST_COUNTS = [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]


def test_labeled_splits_validates():
    images, labels = random_digits(4, seed=5, side=20)
    with pytest.raises(DataError, match="uint8"):
        LabeledSplits(images.astype(np.float32), labels, images, labels, data.MNIST_CLASS_NAMES, "x")
    widened = LabeledSplits(images, labels.astype(np.int32), images, labels, data.MNIST_CLASS_NAMES, "x")
    assert widened.train_labels.dtype == np.int64 and widened.train_images.shape == (4, 20, 20, 1)
    with pytest.raises(DataError, match="integer array"):
        LabeledSplits(images, labels.astype(np.float32), images, labels, data.MNIST_CLASS_NAMES, "x")
    with pytest.raises(DataError, match="outside 0..2"):
        LabeledSplits(images, labels, images, labels, ("a", "b", "c"), "x")
    with pytest.raises(DataError, match=r"test_labels must be an integer array of shape \(4,\)"):
        LabeledSplits(images, labels, images, labels[:3], data.MNIST_CLASS_NAMES, "x")
    with pytest.raises(DataError, match="empty"):
        LabeledSplits(images[:0], labels[:0], images, labels, data.MNIST_CLASS_NAMES, "x")
    with pytest.raises(DataError, match="both splits must share one size"):
        LabeledSplits(images, labels, images[:, :16, :16], labels, data.MNIST_CLASS_NAMES, "x")


def test_bundled_sample_matches_readme():
    sample = data.load_bundled_sample()
    assert sample.train_images.shape == (8000, 28, 28, 1) and sample.test_images.shape == (2000, 28, 28, 1)
    assert sample.class_counts("train").tolist() == README_TRAIN_COUNTS
    assert sample.class_counts("test").tolist() == README_TEST_COUNTS
    assert sample.source_used == "sample:mnist-sample" and sample.class_names == tuple("0123456789")
    # Real digits: mostly-black background with bright strokes, unlike random noise.
    assert 20 < sample.train_images.mean() < 50 and sample.train_images.max() == 255


def test_bundled_sample_corruption_detected(tmp_path):
    copy = tmp_path / "mnist-sample"
    shutil.copytree(data.SAMPLE_DIR, copy)
    assert data.load_bundled_sample(copy).train_images.shape == (8000, 28, 28, 1)
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


def test_the_sample_goes_through_image_size_and_channels():
    splits = data.load_source(DataConfig(source="sample", image_size=32, channels=3))
    assert splits.train_images.shape == (8000, 32, 32, 3) and splits.test_images.shape == (2000, 32, 32, 3)
    assert np.array_equal(splits.train_images[..., 0], splits.train_images[..., 2])  # gray, replicated
    plain = data.load_source(DataConfig(source="sample", channels=3))
    assert np.array_equal(plain.train_images[..., 1], data.load_bundled_sample().train_images[..., 0])


def test_load_source_explicit_idx_and_folder(tmp_path):
    expected, directory = write_idx_dir(tmp_path / "idx", compress=True)
    splits = data.load_source(DataConfig(source=f"idx:{directory}"), network_check=lambda: pytest.fail("no network"))
    np.testing.assert_array_equal(splits.train_images, expected.train_images)
    assert splits.source_used == f"idx:{directory.resolve()}"
    with pytest.raises(DataError, match="does not exist"):  # explicit: no fallback to the sample
        data.load_source(DataConfig(source=f"idx:{tmp_path / 'missing'}"))
    class_folder(tmp_path / "folder", {"x": 2, "y": 2}, side=16, channels=3)
    folder = data.load_source(DataConfig(source=f"folder:{tmp_path / 'folder'}", image_size=24, channels=1))
    assert folder.image_shape == (24, 24, 1) and folder.class_names == ("x", "y")


def test_source_files_signature_follows_files_but_not_reads_them(tmp_path):
    class_folder(tmp_path / "f", {"x": 2, "y": 2}, side=16, channels=1)
    key = sources_module.source_files_signature(f"folder:{tmp_path / 'f'}")
    assert key == sources_module.source_files_signature(f"folder:{tmp_path / 'f'}")
    (tmp_path / "f" / "x" / "000.png").write_bytes((tmp_path / "f" / "y" / "000.png").read_bytes())
    assert sources_module.source_files_signature(f"folder:{tmp_path / 'f'}") != key
    assert sources_module.source_files_signature("sample") is None
    # A missing folder still gives a key: ingest is where its error is reported.
    assert sources_module.source_files_signature(f"folder:{tmp_path / 'absent'}")


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


def test_network_check_gives_up_on_a_resolver_that_never_answers(monkeypatch):
    # No wall-clock bound: the fake resolver blocks until released, so returning at all proves
    # the check does not wait for DNS, whatever the machine's load.
    release = threading.Event()
    entered = threading.Event()

    def stuck(*args, **kwargs):
        entered.set()
        release.wait()
        raise socket.gaierror("released")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    try:
        assert data.network_available("resolver.example", 443, timeout=0.05) is False
        assert entered.is_set() and not release.is_set()
    finally:
        release.set()

    def failing(*args, **kwargs):
        raise socket.gaierror("no such host")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    assert data.network_available("host.invalid", 443, timeout=5.0) is False
