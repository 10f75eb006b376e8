"""tfds: any image-classification builder (mocked: no network), the offline refusal, and bad builders."""

from __future__ import annotations

import numpy as np
import pytest

from gan_core import data
from gan_core.config import DataConfig
from gan_core.data import DataError


def test_explicit_tfds_offline_never_falls_back(tmp_path):
    config = DataConfig(source="tfds:mnist", data_dir=tmp_path / "tfds")
    with pytest.raises(DataError, match=r"offline.*source='sample'.*idx:"):
        data.load_source(config, network_check=lambda: False)
    assert data.is_tfds_prepared("mnist", tmp_path / "tfds") is False
    with pytest.raises(DataError, match="not prepared"):
        data.load_tfds("mnist", data_dir=tmp_path / "tfds")


def test_tfds_rejects_builders_without_image_and_label_and_unknown_ones(tmp_path):
    with pytest.raises(DataError, match="only image-classification builders"):
        data.load_tfds("imdb_reviews", data_dir=tmp_path)
    with pytest.raises(DataError, match="only image-classification builders"):  # before any network wait
        data.load_source(DataConfig(source="tfds:imdb_reviews", data_dir=tmp_path), network_check=pytest.fail)
    with pytest.raises(DataError, match="no builder named 'no_such_dataset_xyz'"):
        data.load_tfds("no_such_dataset_xyz", data_dir=tmp_path)


def test_tfds_mnist_with_mock_data_and_auto(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=37):
        splits = data.load_tfds("mnist", data_dir=tmp_path, download=True)
        assert splits.train_images.shape == (37, 28, 28, 1) and splits.test_images.shape == (37, 28, 28, 1)
        assert splits.train_images.dtype == np.uint8 and splits.train_labels.dtype == np.int64
        assert splits.train_labels.min() >= 0 and splits.train_labels.max() <= 9
        assert splits.class_names == tuple("0123456789") and splits.source_used == "tfds:mnist"
        assert splits.split["method"] == "given"
        # 'auto' with the network up takes the tfds download route (a no-op under the mock).
        snapshot = data.ingest(
            DataConfig(source="auto", data_dir=tmp_path, real_labeled_limit=20),
            tmp_path / "cache",
            network_check=lambda: True,
        )
    assert snapshot.source_used == "tfds:mnist" and snapshot.counts["train"]["total"] == 20
    assert snapshot.counts["test"]["total"] == 37 and snapshot.image_shape == (28, 28, 1)


def test_tfds_rgb_builder_and_geometry(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        splits = data.load_source(DataConfig(source="tfds:cifar10", data_dir=tmp_path), network_check=lambda: True)
        assert splits.image_shape == (32, 32, 3) and len(splits.class_names) == 10
        smaller = data.load_source(
            DataConfig(source="tfds:cifar10", data_dir=tmp_path, image_size=16, channels=1), network_check=lambda: True
        )
    assert smaller.train_images.shape == (12, 16, 16, 1)


def test_tfds_variable_size_images_need_image_size(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6):
        splits = data.load_tfds("tf_flowers", tmp_path, download=True, config=DataConfig(image_size=24))
        assert splits.image_shape == (24, 24, 3) and len(splits.class_names) == 5
