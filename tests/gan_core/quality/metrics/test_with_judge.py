"""The registered metrics with the real trained judge on real digits: known qualitative answers."""

import numpy as np
import pytest

from gan_core.quality import metrics
from gan_core.quality.metrics import MetricContext
from gan_core.quality.metrics.cas import train_and_score


def context_for(sample, judge, synthetic, labels):
    return MetricContext(
        synthetic_images=synthetic, synthetic_labels=labels,
        real_train_images=sample.train_images, real_train_labels=sample.train_labels,
        real_test_images=sample.test_images, real_test_labels=sample.test_labels,
        num_classes=10, judge=judge, seed=0,
    )


@pytest.fixture(scope="module")
def copied_train(mnist_sample, trained_judge):
    """A 'generator' that replays 1000 training images with their labels."""
    return context_for(mnist_sample, trained_judge, mnist_sample.train_images[:1000], mnist_sample.train_labels[:1000])


@pytest.fixture(scope="module")
def noise(mnist_sample, trained_judge):
    """An untrained generator: uniform noise with balanced labels."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(1000, 28, 28), dtype=np.uint8)
    return context_for(mnist_sample, trained_judge, images, np.arange(1000) % 10)


def test_copied_train_set_is_flagged_as_memorized(copied_train):
    results = metrics.compute(["memorization", "data_copying"], copied_train)
    assert results["memorization_rate"] == 1.0
    assert results["nn_distance_median"] == 0.0
    assert results["near_duplicates"] == 1000
    assert results["data_copying_cells"] >= 5
    # Healthy samples score about 0 (|C_T| < 3); complete separation in ~25 cells of ~40 is about -9.
    assert results["data_copying_ct"] < -5


def test_copied_train_set_looks_real_to_fid_and_the_classifier(copied_train):
    results = metrics.compute(["fid", "label_fidelity", "classifier_score"], copied_train)
    assert results["fid_ratio"] < 1.5
    assert results["label_fidelity"] > 0.97
    assert results["classifier_score"] > 8
    assert results["classifier_score_real"] > 8


def test_noise_is_far_from_real_digits(noise):
    results = metrics.compute(["fid", "precision_recall", "memorization", "class_balance"], noise)
    assert results["fid_ratio"] > 10
    assert results["precision"] < 0.05
    assert results["recall"] < 0.05
    assert results["memorization_rate"] == 0.0
    assert results["class_balance_min_share"] == 1.0


def test_cas_learns_from_real_digits_but_not_from_shuffled_labels(mnist_sample, trained_judge):
    images, labels = mnist_sample.test_images[:500], mnist_sample.test_labels[:500]
    real = metrics.compute(["cas"], context_for(mnist_sample, trained_judge, images, labels))
    assert real["cas"] > 0.8
    assert real["cas_real_baseline"] > 0.8
    assert real["cas_gap"] == pytest.approx(real["cas_real_baseline"] - real["cas"])
    assert abs(real["cas_gap"]) < 0.1
    shuffled_labels = np.random.default_rng(0).permutation(labels)
    shuffled = train_and_score(
        images, shuffled_labels, mnist_sample.test_images[500:], mnist_sample.test_labels[500:], 10
    )
    assert shuffled < 0.3
