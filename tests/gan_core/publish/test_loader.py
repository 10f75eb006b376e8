"""Tests for gan_core.publish.loader: tf.data batches, filters, LATEST resolution, numpy read-back."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from gan_core import publish
from gan_core.publish import loader
from tests.gan_core.publish.sample_rows import rows

CLASS_NAMES = [str(i) for i in range(10)]
REAL_TRAIN, SYNTHETIC_TRAIN, REAL_TEST = 120, 80, 40


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    parts = [
        rows(REAL_TRAIN, "real", "train", 1),
        rows(SYNTHETIC_TRAIN, "synthetic", "train", 2),
        rows(REAL_TEST, "real", "test", 3),
    ]
    root = tmp_path_factory.mktemp("published")
    result = publish.publish_version(root, "digits", parts, CLASS_NAMES, {}, rows_per_shard=50)
    return result.path, parts


def collect(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(images), np.concatenate(labels)


def as_uint8(images: np.ndarray) -> np.ndarray:
    return np.rint(images * 255).astype(np.uint8)


def test_shard_paths_follow_the_manifest(published):
    version_dir, _ = published
    assert [p.name for p in loader.shard_paths(version_dir, "train")] == [
        f"train-0000{i}-of-00004.parquet" for i in range(4)
    ]
    assert loader.shard_paths(version_dir, "test") == [version_dir / "data/test-00000-of-00001.parquet"]


def test_batches_have_the_right_dtypes_shapes_and_pixels(published):
    version_dir, parts = published
    dataset = loader.make_dataset(version_dir, "train", batch_size=64, shuffle=False)
    assert dataset.element_spec == (
        tf.TensorSpec((None, 28, 28, 1), tf.float32),
        tf.TensorSpec((None,), tf.int64),
    )
    assert dataset.cardinality().numpy() == math.ceil((REAL_TRAIN + SYNTHETIC_TRAIN) / 64)
    first_images, first_labels = next(iter(dataset))
    assert first_images.shape == (64, 28, 28, 1) and first_labels.shape == (64,)

    images, labels = collect(dataset)
    assert images.dtype == np.float32 and labels.dtype == np.int64
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.max() > 0.99
    # Unshuffled, rows come back in publish order: the real part, then the synthetic one.
    np.testing.assert_array_equal(as_uint8(images), np.concatenate([parts[0].images, parts[1].images]))
    np.testing.assert_array_equal(labels, np.concatenate([parts[0].labels, parts[1].labels]))


def test_shuffle_is_seeded_keeps_every_row_and_reshuffles_each_epoch(published):
    version_dir, _ = published
    plain_images, plain_labels = collect(loader.make_dataset(version_dir, batch_size=50, shuffle=False))
    shuffled = loader.make_dataset(version_dir, batch_size=50, shuffle=True, seed=7)
    epoch_one, labels_one = collect(shuffled)
    epoch_two, _ = collect(shuffled)
    again, _ = collect(loader.make_dataset(version_dir, batch_size=50, shuffle=True, seed=7))

    np.testing.assert_array_equal(epoch_one, again)  # same seed, same order
    assert not np.array_equal(epoch_one, plain_images)
    assert not np.array_equal(epoch_one, epoch_two)
    assert sorted(labels_one.tolist()) == sorted(plain_labels.tolist())
    flat = lambda images: sorted(map(bytes, as_uint8(images).reshape(len(images), -1)))  # noqa: E731
    assert flat(epoch_one) == flat(plain_images)


def test_source_filter(published):
    version_dir, parts = published
    real_images, real_labels = collect(loader.make_dataset(version_dir, sources=("real",), shuffle=False))
    np.testing.assert_array_equal(as_uint8(real_images), parts[0].images)
    np.testing.assert_array_equal(real_labels, parts[0].labels)

    synthetic = loader.make_dataset(version_dir, sources="synthetic", shuffle=False, batch_size=32)
    assert synthetic.cardinality().numpy() == math.ceil(SYNTHETIC_TRAIN / 32)
    synthetic_images, _ = collect(synthetic)
    np.testing.assert_array_equal(as_uint8(synthetic_images), parts[1].images)


def test_min_confidence_filters_synthetic_rows_and_keeps_real_ones(published):
    version_dir, parts = published
    confident = parts[1].judge_confidence >= np.float32(0.5)
    assert 0 < confident.sum() < SYNTHETIC_TRAIN

    images, _ = collect(loader.make_dataset(version_dir, shuffle=False, min_confidence=0.5))
    np.testing.assert_array_equal(as_uint8(images), np.concatenate([parts[0].images, parts[1].images[confident]]))

    only_synthetic = loader.make_dataset(version_dir, sources=("synthetic",), min_confidence=0.5, shuffle=False)
    assert only_synthetic.cardinality().numpy() == tf.data.UNKNOWN_CARDINALITY
    images, labels = collect(only_synthetic)
    np.testing.assert_array_equal(as_uint8(images), parts[1].images[confident])
    np.testing.assert_array_equal(labels, parts[1].labels[confident])


def test_repeat_runs_past_one_epoch_with_full_batches(published):
    version_dir, _ = published
    dataset = loader.make_dataset(version_dir, "test", batch_size=16, repeat=True)
    batches = [labels.shape[0] for _, labels in dataset.take(10)]  # one epoch is 3 batches
    assert batches == [16] * 10


def test_real_share_draws_real_rows_at_that_rate_and_revisits_the_small_source(published):
    version_dir, parts = published
    real_keys = {image.tobytes() for image in parts[0].images}
    synthetic_keys = {image.tobytes() for image in parts[1].images}
    dataset = loader.make_dataset(version_dir, batch_size=100, repeat=True, real_share=0.8, seed=3)
    images, _ = collect(dataset.take(20))  # 2,000 draws: 10x the 200 train rows
    keys = [image.tobytes() for image in as_uint8(images)]
    from_real = np.mean([key in real_keys for key in keys])
    assert all(key in real_keys or key in synthetic_keys for key in keys)
    assert from_real == pytest.approx(0.8, abs=0.04)  # 5 binomial standard deviations
    # 1,600 real draws from 120 real rows: every real row is revisited.
    assert {key for key in keys if key in real_keys} == real_keys
    again, _ = collect(loader.make_dataset(version_dir, batch_size=100, repeat=True, real_share=0.8, seed=3).take(20))
    np.testing.assert_array_equal(again, images)  # seeded


def test_real_share_refuses_what_it_cannot_mix(published):
    version_dir, _ = published
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        loader.make_dataset(version_dir, repeat=True, real_share=1.0)
    with pytest.raises(ValueError, match="sources must be both"):
        loader.make_dataset(version_dir, repeat=True, real_share=0.5, sources=("real",))
    with pytest.raises(ValueError, match="repeats forever: pass repeat=True"):
        loader.make_dataset(version_dir, real_share=0.5)
    with pytest.raises(ValueError, match="has no synthetic rows in split 'test'.*include_real"):
        loader.make_dataset(version_dir, "test", repeat=True, real_share=0.5)


def test_load_numpy_matches_the_published_rows(published):
    version_dir, parts = published
    images, labels = loader.load_numpy(version_dir, "test")
    assert images.dtype == np.uint8 and images.shape == (REAL_TEST, 28, 28, 1)
    np.testing.assert_array_equal(images, parts[2].images)
    np.testing.assert_array_equal(labels, parts[2].labels)
    images, _ = loader.load_numpy(version_dir, "train", sources=("synthetic",), min_confidence=0.9)
    np.testing.assert_array_equal(images, parts[1].images[parts[1].judge_confidence >= np.float32(0.9)])
    empty, empty_labels = loader.load_numpy(version_dir, "test", sources=("synthetic",))
    assert empty.shape == (0, 28, 28, 1) and empty_labels.shape == (0,)


def test_a_dataset_dir_resolves_latest(tmp_path):
    publish.publish_version(tmp_path, "grow", [rows(10, "real", "train", 4)], CLASS_NAMES, {})
    newer = rows(7, "real", "train", 5)
    second = publish.publish_version(tmp_path, "grow", [newer], CLASS_NAMES, {})
    dataset_dir = tmp_path / "grow"

    images, _ = collect(loader.make_dataset(dataset_dir, shuffle=False))
    np.testing.assert_array_equal(as_uint8(images), newer.images)
    assert loader.load_numpy(dataset_dir, "train")[0].shape[0] == 7
    assert loader.shard_paths(dataset_dir, "train")[0].parent.parent == second.path


def test_keras_trains_on_the_dataset(published):
    version_dir, _ = published
    keras = tf.keras
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(loader.make_dataset(version_dir, batch_size=64), epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_bad_arguments_name_the_problem(published, tmp_path):
    version_dir, _ = published
    with pytest.raises(ValueError, match=r"split 'validation' is not in .*available splits: \['test', 'train'\]"):
        loader.make_dataset(version_dir, "validation")
    with pytest.raises(ValueError, match="sources must be a non-empty subset"):
        loader.make_dataset(version_dir, sources=("real", "fake"))
    with pytest.raises(ValueError, match="min_confidence must be None or a number in"):
        loader.make_dataset(version_dir, min_confidence=1.5)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        loader.make_dataset(version_dir, batch_size=0)
    with pytest.raises(FileNotFoundError, match="nothing is published"):
        loader.make_dataset(tmp_path)
