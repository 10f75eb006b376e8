"""Chunked scoring: the same report as all at once, pairwise metrics on a seeded subsample, exact counts."""

from types import SimpleNamespace

import numpy as np
import pytest

from gan_core.config import GateThresholds, QualityConfig
from gan_core.quality.report import evaluate
from gan_core.quality.streaming import StreamingEvaluation, subsample_rows

CHEAP_METRICS = ("label_fidelity", "fid", "memorization", "class_balance", "classifier_score", "density_coverage")
STREAM_EXACT = (
    "label_fidelity", "class_balance_min_share", "class_balance_predicted_min_share",
    *(f"count_class_{k}" for k in range(10)),
)  # fmt: skip


class ProjectionJudge:
    """Stand-in judge, row by row: 7x7 pooled pixels as features, softmax of a fixed projection."""

    def __init__(self):
        self.weights = np.random.default_rng(7).normal(scale=6.0, size=(49, 10)).astype(np.float32)

    def features(self, images):
        pooled = images.reshape(len(images), 7, 4, 7, 4).astype(np.float32).mean(axis=(2, 4)) / 255.0
        return pooled.reshape(len(images), 49)

    def predict_proba(self, images):
        logits = self.features(images) @ self.weights
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def setting(mnist_sample):
    real = SimpleNamespace(
        train_images=mnist_sample.train_images[:1000], train_labels=mnist_sample.train_labels[:1000],
        test_images=mnist_sample.test_images[:500], test_labels=mnist_sample.test_labels[:500],
    )  # fmt: skip
    images, labels = mnist_sample.train_images[1000:3500], mnist_sample.train_labels[1000:3500]
    return real, images, labels


def config(**overrides):
    gate = GateThresholds(min_confidence=0.3, max_second_judge_gap=None)
    return QualityConfig(metrics=CHEAP_METRICS, gate=gate, **overrides)


def streamed(setting, chunk, quality_config, second_judge=None):
    real, images, labels = setting
    stream = StreamingEvaluation(real, ProjectionJudge(), quality_config, 10, None, second_judge, len(labels))
    masks = [
        stream.add(images[start : start + chunk], labels[start : start + chunk])
        for start in range(0, len(labels), chunk)
    ]
    return stream.finish(), np.concatenate([accepted for _, accepted in masks])


def test_chunks_give_the_report_of_the_whole_set_when_the_subsample_holds_every_sample(setting):
    real, images, labels = setting
    whole = evaluate(images, labels, real, ProjectionJudge(), config(), 10, second_judge=ProjectionJudge())
    assert 0.05 < whole.metrics["acceptance_rate"] < 0.95  # the threshold really rejects some
    for chunk in (700, 1800):
        report, accepted = streamed(setting, chunk, config(), second_judge=ProjectionJudge())
        assert report.metrics == whole.metrics
        np.testing.assert_array_equal(accepted, whole.accepted)
        assert report.num_samples == 2500 and report.num_accepted == int(whole.accepted.sum())
        assert report.accepted is None and report.confidences is None  # streamed: rows went elsewhere
        assert report.metric_subsample["all_samples"] is True and report.metric_subsample["size"] == 2500
        assert report.per_class == whole.per_class


def test_pairwise_metrics_use_the_seeded_subsample_and_counts_use_every_sample(setting):
    real, images, labels = setting
    whole = evaluate(images, labels, real, ProjectionJudge(), config(), 10)
    report, accepted = streamed(setting, 600, config(metric_subsample=500))
    assert report.metric_subsample == {"size": 500, "total": 2500, "max_size": 500, "seed": 0, "all_samples": False}
    assert report.metrics["fid_num_samples"] == 500
    for key in (*STREAM_EXACT, "acceptance_rate", "label_fidelity_accepted", "judge_accuracy", "label_fidelity_gap"):
        assert report.metrics[key] == whole.metrics[key], key
    for key in ("label_fidelity_mean_confidence", "classifier_score", "classifier_score_real"):
        assert report.metrics[key] == pytest.approx(whole.metrics[key], rel=1e-9), key
    np.testing.assert_array_equal(accepted, whole.accepted)  # rejection never depends on the subsample
    assert report.metrics["fid"] != whole.metrics["fid"]  # FID really ran on fewer samples
    # Same seed, same subsample and the same sums (taken per stream block), whatever the chunks.
    again, _ = streamed(setting, 2500, config(metric_subsample=500))
    assert again.metrics == report.metrics and again.per_class == report.per_class


def test_subsample_rows_are_seeded_sorted_and_all_rows_when_the_stream_is_short():
    rows = subsample_rows(1_000_000, 1000, seed=3)
    assert len(rows) == len(np.unique(rows)) == 1000 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, subsample_rows(1_000_000, 1000, seed=3))
    assert not np.array_equal(rows, subsample_rows(1_000_000, 1000, seed=4))
    np.testing.assert_array_equal(subsample_rows(800, 1000, seed=3), np.arange(800))


def test_a_stream_must_bring_the_samples_it_announced(setting):
    real, images, labels = setting
    stream = StreamingEvaluation(real, ProjectionJudge(), config(), 10, None, None, 100)
    with pytest.raises(ValueError, match="more than the 100 samples"):
        stream.add(images[:101], labels[:101])
    stream.add(images[:60], labels[:60])
    with pytest.raises(ValueError, match="announced 100 samples but brought 60"):
        stream.finish()


def test_chunk_size_must_be_whole_blocks():
    with pytest.raises(ValueError, match="chunk_size 1500 is not a multiple of 1024: use 1024 or 2048"):
        QualityConfig(chunk_size=1500)
    assert QualityConfig(chunk_size=4096).chunk_size == 4096
