"""Quality check of synthetic samples: metrics, per-sample rejection and the publish gate.

:func:`evaluate` scores a synthetic set against real data with the judge, rejects samples the
judge is not confident about, and applies :class:`gan_core.config.GateThresholds`.
:func:`enforce_gate` raises :class:`GateFailed` when the gate fails; :func:`report_markdown`
renders the report (tables and an inline sample grid) for a UI artifact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from gan_core.config import QualityConfig
from gan_core.imaging import check_images, check_labels, png_data_uri
from gan_core.quality.gate import GateFailed, GateResult
from gan_core.quality.metrics import FeatureExtractor


@dataclass(eq=False)
class QualityReport:
    """Everything the quality check found.

    Attributes:
        metrics: Every computed metric, plus acceptance_rate, label_fidelity_accepted and judge_accuracy.
        per_class: One row per class: label, class_name, generated, accepted, acceptance_rate,
            label_fidelity, mean_confidence.
        accepted: Bool mask over the synthetic samples that survived rejection; None when the
            samples were streamed (their rows went to disk, not into the report).
        confidences: The judge's probability of each sample's conditioned label; None when streamed.
        gate: The gate outcome.
        num_samples: Samples scored; None counts ``accepted``.
        num_accepted: Samples that survived rejection; None counts ``accepted``.
        metric_subsample: What the pairwise metrics saw (size, total, seed); see
            :mod:`gan_core.quality.streaming`.
    """

    metrics: dict[str, float]
    per_class: list[dict]
    accepted: np.ndarray | None
    confidences: np.ndarray | None
    gate: GateResult
    num_samples: int | None = None
    num_accepted: int | None = None
    metric_subsample: dict | None = None

    def __post_init__(self) -> None:
        if self.num_samples is None:
            self.num_samples = int(len(self.accepted))
        if self.num_accepted is None:
            self.num_accepted = int(np.sum(self.accepted))

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
            "num_samples": self.num_samples,
            "num_accepted": self.num_accepted,
            "metrics": {key: json_float(value) for key, value in self.metrics.items()},
            "checks": [
                {
                    "name": c.name,
                    "value": None if c.value is None else json_float(c.value),
                    "threshold": c.threshold,
                    "op": c.op,
                    "passed": c.passed,
                }
                for c in self.gate.checks
            ],
            "per_class": self.per_class,
            "metric_subsample": self.metric_subsample,
        }


def json_float(value: float) -> float | None:
    """``value`` as a float, or None where JSON has no number (NaN, inf), so the gap stays visible."""
    return float(value) if math.isfinite(value) else None


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
    """Scores synthetic samples held in memory and applies the gate (never raises on a failed gate).

    The same scoring as the quality stage's stream (:class:`gan_core.quality.streaming.StreamingEvaluation`),
    in one chunk; the report also carries the per-sample ``accepted`` mask and ``confidences``.

    Args:
        synthetic_images: uint8 (n, H, W) samples.
        synthetic_labels: The labels they were conditioned on.
        real: Object with train_images/train_labels/test_images/test_labels arrays.
        judge: The trained judge (``predict_proba`` and ``features``).
        config: Metrics to compute, gate thresholds and ``metric_subsample``.
        num_classes: Number of classes.
        class_names: Names indexed by label; None uses the label numbers.
        second_judge: A classifier that does not reject anything (another architecture): its
            agreement with the conditioned labels of the accepted rows is independent evidence
            that the labels are right.

    Raises:
        ValueError: malformed arrays, an unknown metric, or class_names of the wrong length.
    """
    from gan_core.quality.streaming import StreamingEvaluation  # it builds on this module's report

    labels = check_labels(synthetic_labels, len(synthetic_images), num_classes, "synthetic_labels")
    stream = StreamingEvaluation(real, judge, config, num_classes, class_names, second_judge, len(labels))
    confidences, accepted = stream.add(check_images(synthetic_images, "synthetic_images"), labels)
    report = stream.finish()
    report.accepted, report.confidences = accepted, confidences
    return report


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
    table = {
        "rejecting judge": {
            "real_test_accuracy": metrics.get("judge_accuracy"),
            "all_samples": metrics["label_fidelity"],
            "accepted_rows": metrics.get("label_fidelity_accepted"),
        }
    }
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
    total, kept = report.num_samples, report.num_accepted
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
            str(row["label"]),
            row["class_name"],
            str(row["generated"]),
            str(row["accepted"]),
            *(_format(row[key], "-") for key in ("acceptance_rate", "label_fidelity", "mean_confidence")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if grid_png is not None:
        lines += ["", "## Samples", "", f"![samples]({png_data_uri(grid_png)})"]
    return "\n".join(lines) + "\n"
