"""Quality check of synthetic samples: metrics, per-sample rejection and the publish gate.

:func:`evaluate` scores a synthetic set against real data with the judge, rejects samples the
judge is not confident about, and applies :class:`gan_core.config.GateThresholds`.
:func:`enforce_gate` raises :class:`GateFailed` when the gate fails; :func:`report_markdown`
renders the report (tables and an inline sample grid) for a UI artifact.
"""


from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from gan_core.config import QualityConfig
from gan_core.imaging import png_data_uri
from gan_core.quality import metrics as metric_registry
from gan_core.quality.gate import GateFailed, GateResult, apply_gate
from gan_core.quality.metrics import FeatureExtractor, MetricContext

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class QualityReport:
    """Everything the quality check found.

    Attributes:
        metrics: Every computed metric, plus acceptance_rate, label_fidelity_accepted and judge_accuracy.
        per_class: One row per class: label, class_name, generated, accepted, acceptance_rate,
            label_fidelity, mean_confidence.
        accepted: Bool mask over the synthetic samples that survived rejection.
        confidences: The judge's probability of each sample's conditioned label.
        gate: The gate outcome.
    """

    metrics: dict[str, float]
    per_class: list[dict]
    accepted: np.ndarray
    confidences: np.ndarray
    gate: GateResult

    @property
    def passed(self) -> bool:
        """Whether the gate passed."""
        return self.gate.passed

    @property
    def failures(self) -> list[str]:
        """Human-readable failed checks, e.g. 'label_fidelity 0.412 < min 0.900'."""
        return self.gate.failures

    def summary(self) -> dict:
        """A JSON-ready dict (no per-sample arrays) for manifests and artifacts."""
        return {
            "passed": self.gate.passed,
            "failures": self.failures,
            "num_samples": int(len(self.accepted)),
            "num_accepted": int(np.sum(self.accepted)),
            "metrics": {key: _json_float(value) for key, value in self.metrics.items()},
            "checks": [
                {"name": c.name, "value": None if c.value is None else _json_float(c.value),
                 "threshold": c.threshold, "op": c.op, "passed": c.passed}
                for c in self.gate.checks
            ],
            "per_class": self.per_class,
        }


def _json_float(value: float) -> float | None:
    # JSON has no NaN/inf; None keeps the file valid and the gap visible.
    return float(value) if math.isfinite(value) else None


def _real_arrays(real) -> dict[str, np.ndarray]:
    arrays = {}
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        if not hasattr(real, name):
            raise ValueError(
                f"real data has no {name!r}: pass an object with train_images, train_labels, "
                "test_images and test_labels (e.g. gan_core.data.LabeledSplits)"
            )
        arrays[name] = getattr(real, name)
    return arrays


def label_confidences(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each sample's probability of the label it was conditioned on, float32: what rejection thresholds."""
    return probabilities[np.arange(len(labels)), labels].astype(np.float32)


def evaluate(
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    real,
    judge: FeatureExtractor,
    config: QualityConfig,
    num_classes: int,
    class_names: Sequence[str] | None = None,
    second_judge: FeatureExtractor | None = None,
) -> QualityReport:
    """Scores synthetic samples and applies the gate (never raises on a failed gate).

    Args:
        synthetic_images: uint8 (n, H, W) samples.
        synthetic_labels: The labels they were conditioned on.
        real: Object with train_images/train_labels/test_images/test_labels arrays.
        judge: The trained judge (``predict_proba`` and ``features``).
        config: Metrics to compute and gate thresholds.
        num_classes: Number of classes.
        class_names: Names indexed by label; None uses the label numbers.
        second_judge: A classifier that does not reject anything (another architecture): its
            agreement with the conditioned labels of the accepted rows is independent evidence
            that the labels are right.

    Raises:
        ValueError: malformed arrays, an unknown metric, or class_names of the wrong length.
    """
    if class_names is None:
        class_names = [str(label) for label in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} entries but num_classes is {num_classes}")
    arrays = _real_arrays(real)
    context = MetricContext(
        synthetic_images=synthetic_images,
        synthetic_labels=synthetic_labels,
        real_train_images=arrays["train_images"],
        real_train_labels=arrays["train_labels"],
        real_test_images=arrays["test_images"],
        real_test_labels=arrays["test_labels"],
        num_classes=num_classes,
        judge=judge,
        seed=config.seed,
    )
    values = metric_registry.compute(config.metrics, context)

    labels = context.labels("synthetic")
    probabilities = context.probabilities("synthetic")
    confidences = label_confidences(probabilities, labels)
    correct = np.argmax(probabilities, axis=1) == labels
    accepted = confidences >= config.gate.min_confidence
    values["acceptance_rate"] = float(np.mean(accepted))
    values["label_fidelity_accepted"] = float(np.mean(correct[accepted])) if accepted.any() else float("nan")
    test_predictions = np.argmax(context.probabilities("test"), axis=1)
    values["judge_accuracy"] = float(np.mean(test_predictions == context.labels("test")))
    if "label_fidelity" in values:
        # Relative to what the judge achieves on real data, so a harder dataset (where the judge
        # itself reaches ~90 %) is not refused for the judge's own errors.
        values["label_fidelity_gap"] = values["judge_accuracy"] - values["label_fidelity"]
    if second_judge is not None:
        values.update(second_judge_agreement(second_judge, context, accepted))

    per_class = []
    for label in range(num_classes):
        mine = labels == label
        generated = int(np.sum(mine))
        per_class.append({
            "label": label,
            "class_name": str(class_names[label]),
            "generated": generated,
            "accepted": int(np.sum(accepted & mine)),
            "acceptance_rate": _json_float(float(np.mean(accepted[mine])) if generated else float("nan")),
            "label_fidelity": _json_float(float(np.mean(correct[mine])) if generated else float("nan")),
            "mean_confidence": _json_float(float(np.mean(confidences[mine])) if generated else float("nan")),
        })

    gate = apply_gate(values, config.gate)
    report = QualityReport(values, per_class, accepted, confidences, gate)
    if gate.passed:
        logger.info("quality gate passed: %d of %d samples accepted", int(accepted.sum()), len(accepted))
    else:
        logger.warning("quality gate failed: %s", "; ".join(gate.failures))
    return report


def second_judge_agreement(second_judge: FeatureExtractor, context: MetricContext, accepted: np.ndarray) -> dict[str, float]:
    """The second judge's accuracy on real test and its agreement with the synthetic labels."""
    labels = context.labels("synthetic")
    agrees = np.argmax(second_judge.predict_proba(context.images("synthetic")), axis=1) == labels
    test_accuracy = float(np.mean(
        np.argmax(second_judge.predict_proba(context.images("test")), axis=1) == context.labels("test")
    ))
    agreement = float(np.mean(agrees[accepted])) if accepted.any() else float("nan")
    return {
        "second_judge_accuracy": test_accuracy,
        "second_judge_agreement": agreement,
        "second_judge_agreement_all": float(np.mean(agrees)) if len(agrees) else float("nan"),
        "second_judge_gap": test_accuracy - agreement,
    }


def enforce_gate(report: QualityReport) -> QualityReport:
    """Returns ``report`` if its gate passed.

    Raises:
        GateFailed: the gate failed; the message lists each failed check.
    """
    if not report.gate.passed:
        raise GateFailed(report.failures, len(report.gate.checks), report=report)
    return report


def _format(value: float | None, missing: str = "not computed") -> str:
    if value is None:
        return missing
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf"
    return f"{value:.4g}"


def label_agreement(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """Each judge's real-test accuracy beside its agreement with the synthetic labels.

    The rejecting judge agrees with every accepted row by construction; the second judge, which
    rejected nothing, is the independent number. Empty when label fidelity was not computed.
    """
    if "label_fidelity" not in metrics:
        return {}
    table = {"rejecting judge": {
        "real_test_accuracy": metrics.get("judge_accuracy"),
        "all_samples": metrics["label_fidelity"],
        "accepted_rows": metrics.get("label_fidelity_accepted"),
    }}
    if "second_judge_agreement" in metrics:
        table["second judge (LeNet, no rejection)"] = {
            "real_test_accuracy": metrics["second_judge_accuracy"],
            "all_samples": metrics["second_judge_agreement_all"],
            "accepted_rows": metrics["second_judge_agreement"],
        }
    return table


def report_markdown(report: QualityReport, grid_png: bytes | None = None) -> str:
    """Renders the report as markdown: verdict, metrics with thresholds, per-class table, grid."""
    verdict = "PASS" if report.gate.passed else "FAIL"
    total, kept = len(report.accepted), int(np.sum(report.accepted))
    lines = [
        f"# Quality gate: **{verdict}**",
        "",
        f"{total} samples scored, {kept} accepted ({kept / total:.1%})." if total else "No samples scored.",
        "",
    ]
    if report.failures:
        lines += ["Failed checks:", ""] + [f"- {line}" for line in report.failures] + [""]

    agreement = label_agreement(report.metrics)
    if agreement:
        lines += [
            "## Do the labels convince a classifier that did not filter them?",
            "",
            "| judge | accuracy on real test | agrees with labels: all samples | accepted rows |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, row in agreement.items():
            cells = [_format(row.get(key), "-") for key in ("real_test_accuracy", "all_samples", "accepted_rows")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")

    lines += ["## Metrics", "", "| metric | value | threshold | result |", "| --- | ---: | --- | --- |"]
    gated = {check.name: check for check in report.gate.checks}
    for check in report.gate.checks:
        bound = "min" if check.op == ">=" else "max"
        result = "PASS" if check.passed else "FAIL"
        lines.append(f"| {check.name} | {_format(check.value)} | {bound} {check.threshold:g} | {result} |")
    for key, value in report.metrics.items():
        if key in gated or key.startswith("count_class_"):
            continue
        lines.append(f"| {key} | {_format(value)} | | |")

    lines += [
        "",
        "## Per class",
        "",
        "| label | class | generated | accepted | acceptance | label fidelity | mean confidence |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report.per_class:
        cells = [
            str(row["label"]), row["class_name"], str(row["generated"]), str(row["accepted"]),
            *(_format(row[key], "-") for key in ("acceptance_rate", "label_fidelity", "mean_confidence")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if grid_png is not None:
        lines += ["", "## Samples", "", f"![samples]({png_data_uri(grid_png)})"]
    return "\n".join(lines) + "\n"
