import numpy as np
import pytest

from gan_core.quality import metrics
from gan_core.quality.metrics import MetricContext

BUILTINS = {
    "cas", "class_balance", "classifier_score", "data_copying", "density_coverage",
    "fid", "label_fidelity", "memorization", "precision_recall",
}


class PoolingJudge:
    """Stand-in judge: 7x7 average-pooled pixels as features, fixed per-class probabilities."""

    def __init__(self, num_classes=10):
        self.num_classes = num_classes
        self.calls = 0

    def features(self, images):
        self.calls += 1
        pooled = images.reshape(len(images), 7, 4, 7, 4).astype(np.float32).mean(axis=(2, 4)) / 255.0
        return pooled.reshape(len(images), 49)

    def predict_proba(self, images):
        # Predicts "class = brightest 7x7 row band index mod C" with confidence 0.91.
        bands = images.reshape(len(images), 7, -1).sum(axis=2).argmax(axis=1) % self.num_classes
        probabilities = np.full((len(images), self.num_classes), 0.01, np.float32)
        probabilities[np.arange(len(images)), bands] = 1.0 - 0.01 * (self.num_classes - 1)
        return probabilities


def make_context(sample, synthetic, labels, judge=None, num_classes=10):
    return MetricContext(
        synthetic_images=synthetic, synthetic_labels=labels,
        real_train_images=sample.train_images, real_train_labels=sample.train_labels,
        real_test_images=sample.test_images, real_test_labels=sample.test_labels,
        num_classes=num_classes, judge=judge or PoolingJudge(), seed=0,
    )


def test_available_lists_every_builtin_metric():
    assert BUILTINS <= set(metrics.available())
    assert metrics.available() == sorted(metrics.available())


def test_unknown_metric_is_rejected_before_computing_anything(mnist_sample):
    judge = PoolingJudge()
    context = make_context(mnist_sample, mnist_sample.test_images[:50], mnist_sample.test_labels[:50], judge)
    with pytest.raises(ValueError, match="unknown metrics \\['nope'\\]: available metrics are .*fid"):
        metrics.compute(["label_fidelity", "nope"], context)
    assert judge.calls == 0
    with pytest.raises(ValueError, match="available metrics are"):
        metrics.get("nope")


def test_register_refuses_a_second_function_under_a_taken_name():
    with pytest.raises(ValueError, match="already registered"):
        metrics.register("fid")(lambda context: {})


def test_compute_merges_results_and_embeds_each_set_once(mnist_sample):
    judge = PoolingJudge()
    synthetic = mnist_sample.test_images[:400]
    context = make_context(mnist_sample, synthetic, mnist_sample.test_labels[:400], judge)
    results = metrics.compute(
        ["fid", "precision_recall", "density_coverage", "class_balance", "label_fidelity", "fid"], context
    )
    assert {"fid", "fid_real_floor", "fid_ratio", "precision", "recall", "density", "coverage",
            "label_fidelity", "class_balance_min_share", "count_class_0"} <= set(results)
    assert all(isinstance(value, float) for value in results.values())
    # synthetic, train and test: three feature passes however many metrics use them.
    assert judge.calls == 3
    counts = np.bincount(mnist_sample.test_labels[:400], minlength=10)
    assert [results[f"count_class_{k}"] for k in range(10)] == counts.tolist()


def test_context_rejects_malformed_sets(mnist_sample):
    labels = mnist_sample.test_labels[:10]
    with pytest.raises(ValueError, match="synthetic_images must be uint8"):
        make_context(mnist_sample, mnist_sample.test_images[:10].astype(np.float32), labels)
    with pytest.raises(ValueError, match="synthetic_labels range"):
        make_context(mnist_sample, mnist_sample.test_images[:10], labels + 10)
    with pytest.raises(ValueError, match="shape \\(10,\\)"):
        make_context(mnist_sample, mnist_sample.test_images[:10], labels[:5])
    with pytest.raises(ValueError, match="share one size"):
        make_context(mnist_sample, np.zeros((10, 32, 32), np.uint8), labels)
    with pytest.raises(ValueError, match="empty"):
        make_context(mnist_sample, np.zeros((0, 28, 28), np.uint8), labels[:0])


def test_context_subsamples_are_reproducible_and_distinct(mnist_sample):
    context = make_context(mnist_sample, mnist_sample.test_images[:10], mnist_sample.test_labels[:10])
    first = context.subsample_indices("train", 100, "fid")
    assert np.array_equal(first, context.subsample_indices("train", 100, "fid"))
    assert len(np.unique(first)) == 100
    assert not np.array_equal(first, context.subsample_indices("train", 100, "other"))
    np.testing.assert_array_equal(context.subsample_indices("synthetic", 100, "fid"), np.arange(10))


def test_judge_with_wrong_class_count_is_caught(mnist_sample):
    context = make_context(mnist_sample, mnist_sample.test_images[:10], mnist_sample.test_labels[:10],
                           judge=PoolingJudge(num_classes=7))
    with pytest.raises(ValueError, match="predicts 7 classes"):
        metrics.compute(["label_fidelity"], context)


def test_tiny_sets_give_nan_instead_of_crashing(mnist_sample):
    context = make_context(mnist_sample, mnist_sample.test_images[:3], mnist_sample.test_labels[:3])
    results = metrics.compute(["precision_recall", "density_coverage", "data_copying", "fid"], context)
    assert np.isnan(results["precision"]) and np.isnan(results["coverage"])
    assert np.isnan(results["data_copying_ct"]) and results["data_copying_cells"] == 0
    assert np.isfinite(results["fid"])
    one = make_context(mnist_sample, mnist_sample.test_images[:1], mnist_sample.test_labels[:1])
    assert np.isnan(metrics.compute(["fid"], one)["fid_ratio"])


def test_default_metrics_are_one_registered_list():
    from gan_core.config import QualityConfig

    assert set(metrics.DEFAULT_METRICS) <= set(metrics.available())
    assert "cas" not in metrics.DEFAULT_METRICS
    assert QualityConfig().metrics == metrics.DEFAULT_METRICS
