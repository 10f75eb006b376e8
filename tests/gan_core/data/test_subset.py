"""Row selections: the stratified subset, and the seeded stratified test holdout."""

from __future__ import annotations

import numpy as np
import pytest

from gan_core import data
from gan_core.data import DataError
from gan_core.data.subset import arrange_splits
from tests.gan_core.data.builders import random_digits


def test_stratified_subset_proportional_and_deterministic(mnist_sample):
    images, labels = mnist_sample.train_images, mnist_sample.train_labels
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


def test_stratified_holdout_per_class_counts_and_seed():
    labels = np.repeat([0, 1, 2, 3], [10, 3, 2, 1])
    train, test = data.stratified_holdout(labels, 0.2, seed=0)
    assert np.bincount(labels[test], minlength=4).tolist() == [2, 1, 1, 0]  # at least 1, never all
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
    assert np.array_equal(test, data.stratified_holdout(labels, 0.2, seed=0)[1])
    assert any(not np.array_equal(test, data.stratified_holdout(labels, 0.2, seed=s)[1]) for s in (1, 2, 3))
    with pytest.raises(DataError, match="every class has a single image"):
        data.stratified_holdout(np.array([0, 1, 2]), 0.2, seed=0)


def test_arrangement_orders_train_then_test_and_inverts():
    labels = np.array([0, 1, 0, 1, 0, 1])
    arrangement = arrange_splits(labels, np.array([False, True, False, False, True, False]), 0.2, 0, "val")
    assert arrangement.order.tolist() == [0, 2, 3, 5, 1, 4] and arrangement.train_count == 4
    assert arrangement.split == {"method": "given", "test_split": "val", "test_fraction": None, "seed": None}
    assert np.array_equal(arrangement.destination[arrangement.order], np.arange(6))
