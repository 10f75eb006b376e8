import base64
import math
from types import SimpleNamespace

import numpy as np
import pytest

from gan_core.config import GateThresholds, QualityConfig
from gan_core.imaging import class_grid, encode_png
from gan_core.quality import GateFailed, apply_gate, enforce_gate, evaluate, label_agreement, report_markdown

CLASS_NAMES = [str(k) for k in range(10)]
GATE_METRICS = QualityConfig(
    metrics=("label_fidelity", "fid", "memorization", "density_coverage"),
    gate=GateThresholds(max_second_judge_gap=None),
)


@pytest.fixture(scope="module")
def held_out(mnist_sample):
    """Real data whose test split is only the first 1000 test digits; the other 1000 play 'samples'."""
    real = SimpleNamespace(
        train_images=mnist_sample.train_images, train_labels=mnist_sample.train_labels,
        test_images=mnist_sample.test_images[:1000], test_labels=mnist_sample.test_labels[:1000],
    )
    return real, mnist_sample.test_images[1000:], mnist_sample.test_labels[1000:]


def run(real, images, labels, judge, config=None, second_judge=None):
    return evaluate(images, labels, real, judge, config or QualityConfig(), 10, CLASS_NAMES, second_judge=second_judge)


@pytest.fixture(scope="module")
def passing(held_out, trained_judge, second_judge):
    """Real held-out digits with their true labels, scored with every default metric and both judges."""
    real, images, labels = held_out
    return run(real, images, labels, trained_judge, second_judge=second_judge)


@pytest.fixture(scope="module")
def shuffled(held_out, trained_judge):
    """A generator that ignores its labels: real held-out digits with shuffled labels."""
    real, images, labels = held_out
    shuffled_labels = np.random.default_rng(0).permutation(labels)
    return run(real, images, shuffled_labels, trained_judge, GATE_METRICS), shuffled_labels


def failed_checks(report):
    return {check.name for check in report.gate.checks if not check.passed}


def test_real_held_out_digits_with_true_labels_pass_the_default_gate(passing):
    assert passing.gate.passed, passing.failures
    assert passing.failures == []
    assert {check.name for check in passing.gate.checks} == {
        "label_fidelity_gap", "second_judge_gap", "fid_ratio", "memorization_rate", "coverage", "acceptance_rate",
        "judge_accuracy",
    }
    metrics = passing.metrics
    assert metrics["label_fidelity"] > 0.97
    assert metrics["label_fidelity_gap"] == pytest.approx(metrics["judge_accuracy"] - metrics["label_fidelity"])
    # Real digits: the independent judge agrees with their labels about as often as it is right on real test.
    assert metrics["second_judge_accuracy"] > 0.95
    assert abs(metrics["second_judge_gap"]) < 0.02
    assert metrics["second_judge_agreement"] >= metrics["second_judge_agreement_all"] - 0.005
    agreement = label_agreement(metrics)
    independent = agreement["second judge (LeNet, no rejection)"]
    assert independent["accepted_rows"] == metrics["second_judge_agreement"]
    assert agreement["rejecting judge"]["accepted_rows"] == 1.0
    text = report_markdown(passing)
    assert "## Do the labels convince a classifier that did not filter them?" in text
    assert f"| second judge (LeNet, no rejection) | {independent['real_test_accuracy']:.4g} |" in text
    assert metrics["acceptance_rate"] > 0.9
    assert metrics["fid_ratio"] < 1.5
    assert metrics["memorization_rate"] < 0.03  # ~1 % by construction of the threshold
    assert abs(metrics["data_copying_ct"]) < 3
    assert metrics["precision"] > 0.7 and metrics["recall"] > 0.7 and metrics["coverage"] > 0.8
    assert metrics["classifier_score"] > 8
    assert metrics["label_fidelity_accepted"] == 1.0  # min_confidence 0.9 > 0.5 implies argmax
    assert passing.accepted.shape == (1000,) and passing.confidences.dtype == np.float32
    np.testing.assert_array_equal(passing.accepted, passing.confidences >= 0.9)
    assert enforce_gate(passing) is passing


def test_per_class_rows_add_up(passing, held_out):
    _, _, labels = held_out
    rows = passing.per_class
    assert [row["label"] for row in rows] == list(range(10))
    assert sum(row["generated"] for row in rows) == 1000
    assert sum(row["accepted"] for row in rows) == int(passing.accepted.sum())
    for row in rows:
        mine = labels == row["label"]
        assert row["generated"] == int(mine.sum())
        assert row["mean_confidence"] == pytest.approx(float(passing.confidences[mine].mean()), rel=1e-5)


def test_real_digits_with_shuffled_labels_fail_on_label_fidelity(shuffled):
    report, _ = shuffled
    assert not report.gate.passed
    failed = failed_checks(report)
    assert "label_fidelity_gap" in failed and "acceptance_rate" in failed
    # The images themselves are real, so FID and memorization do not object.
    assert "fid_ratio" not in failed and "memorization_rate" not in failed
    assert report.metrics["label_fidelity"] < 0.3
    assert any(line.startswith("label_fidelity_gap 0.") and "> max 0.100" in line for line in report.failures)


@pytest.fixture(scope="module")
def weak_judge(mnist_sample, judge_cache_dir):
    """A judge that reaches only ~92 % on real test (400 training digits), as on a harder dataset."""
    from gan_core.config import JudgeConfig
    from gan_core.data import stratified_subset
    from gan_core.quality.judge_training import train_judge

    images, labels = stratified_subset(mnist_sample.train_images, mnist_sample.train_labels, 400, seed=0)
    return train_judge(images, labels, mnist_sample.test_images[:1000], mnist_sample.test_labels[:1000],
                       JudgeConfig(epochs=40), cache_dir=judge_cache_dir, num_classes=10)


def test_the_gate_is_relative_to_what_a_weaker_judge_achieves(held_out, weak_judge):
    real, images, labels = held_out
    config = GATE_METRICS.model_copy(update={"gate": GATE_METRICS.gate.model_copy(update={
        "min_acceptance_rate": None, "max_fid_ratio": None, "min_coverage": None})})
    report = run(real, images, labels, weak_judge, config)
    # Real digits with true labels: the judge is as right on them as on real test, so the
    # relative rule passes where the old absolute rule (label fidelity >= 0.9, judge >= 0.95)
    # would have refused good data for the judge's own errors.
    assert 0.85 <= report.metrics["judge_accuracy"] < 0.95
    assert abs(report.metrics["label_fidelity_gap"]) < 0.05
    assert report.gate.passed, report.failures
    # A label-ignoring generator still fails under the weak judge.
    shuffled = run(real, images, np.random.default_rng(0).permutation(labels), weak_judge, config)
    assert "label_fidelity_gap" in failed_checks(shuffled)


@pytest.mark.parametrize("kind", ["noise", "blank"])
def test_untrained_generator_output_fails(held_out, trained_judge, kind):
    real, _, labels = held_out
    rng = np.random.default_rng(1)
    if kind == "noise":
        images = rng.integers(0, 256, size=(1000, 28, 28), dtype=np.uint8)
    else:  # what a freshly initialised tanh generator tends to emit: flat grey with faint noise
        images = np.clip(128 + rng.normal(scale=4, size=(1000, 28, 28)), 0, 255).astype(np.uint8)
    report = run(real, images, labels, trained_judge, GATE_METRICS)
    assert {"label_fidelity_gap", "fid_ratio", "acceptance_rate"} <= failed_checks(report)
    assert report.metrics["fid_ratio"] > 10
    with pytest.raises(GateFailed) as caught:
        enforce_gate(report)
    assert caught.value.report is report
    assert "fid_ratio" in str(caught.value) and "> max 25.000" in str(caught.value)


def test_gate_checks_whose_metric_was_not_computed_fail_loudly(held_out, trained_judge):
    real, images, labels = held_out
    report = run(real, images, labels, trained_judge, QualityConfig(metrics=("label_fidelity",)))
    assert not report.gate.passed
    missing = [line for line in report.failures if "was not computed" in line]
    assert len(missing) == 4 and len(report.failures) == 4
    assert any("second_judge_gap" in line and "QualityConfig.second_judge" in line for line in missing)
    assert any("fid_ratio" in line and "'fid'" in line for line in missing)
    assert any("memorization_rate" in line and "'memorization'" in line for line in missing)
    assert any("coverage" in line and "'density_coverage'" in line for line in missing)
    # Switching those checks off explicitly is the way to run without them.
    config = QualityConfig(
        metrics=("label_fidelity",),
        gate=GateThresholds(max_fid_ratio=None, max_memorization_rate=None, min_coverage=None, max_second_judge_gap=None),
    )
    assert run(real, images, labels, trained_judge, config).gate.passed


def test_apply_gate_boundaries_and_nan():
    thresholds = GateThresholds()
    values = {"label_fidelity_gap": 0.1, "second_judge_gap": 0.03, "fid_ratio": 25.0, "memorization_rate": 0.05,
              "coverage": 0.5, "acceptance_rate": 0.5, "judge_accuracy": 0.85}
    assert apply_gate(values, thresholds).passed  # thresholds are inclusive
    result = apply_gate({**values, "fid_ratio": math.nan, "label_fidelity_gap": 0.412}, thresholds)
    assert not result.passed
    assert result.failures == ["label_fidelity_gap 0.412 > max 0.100", "fid_ratio is NaN (needs max 25.000)"]
    zero = apply_gate({**values, "acceptance_rate": 0.0}, thresholds)
    assert zero.failures == ["acceptance_rate 0.000 < min 0.500"]


def test_evaluate_rejects_bad_arguments(held_out, trained_judge):
    real, images, labels = held_out
    with pytest.raises(ValueError, match="class_names has 3 entries"):
        evaluate(images, labels, real, trained_judge, QualityConfig(), 10, ["a", "b", "c"])
    with pytest.raises(ValueError, match="no 'train_images'"):
        evaluate(images, labels, object(), trained_judge, QualityConfig(), 10)


def test_report_markdown_has_verdict_thresholds_and_grid(shuffled, held_out):
    report, shuffled_labels = shuffled
    grid = encode_png(class_grid(held_out[1], shuffled_labels, 10, 4))
    text = report_markdown(report, grid)
    assert text.startswith("# Quality gate: **FAIL**")
    assert "| label_fidelity_gap | " in text and "| max 0.1 | FAIL |" in text
    assert "| fid_ratio | " in text and "| max 25 | PASS |" in text
    assert "| fid_real_floor |" in text and "| memorization_threshold |" in text
    assert "- label_fidelity_gap 0." in text  # the failure list
    assert "| 7 | 7 |" in text  # per-class row
    encoded = text.split("![samples](data:image/png;base64,")[1].split(")")[0]
    assert base64.b64decode(encoded) == grid
    assert "![samples]" not in report_markdown(report)
    summary = report.summary()
    assert summary["passed"] is False and summary["num_samples"] == 1000
    assert summary["metrics"]["fid_ratio"] == report.metrics["fid_ratio"]


def test_report_markdown_names_missing_metrics():
    values = {"label_fidelity_gap": 0.03, "acceptance_rate": 0.8, "judge_accuracy": 0.99}
    from gan_core.quality import QualityReport

    report = QualityReport(values, [], np.ones(3, bool), np.ones(3, np.float32), apply_gate(values, GateThresholds()))
    text = report_markdown(report)
    assert "| memorization_rate | not computed | max 0.05 | FAIL |" in text
    assert "3 samples scored, 3 accepted (100.0%)." in text
