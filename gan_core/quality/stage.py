"""The quality-check stage: judge, sample, score, reject and gate in one step, with a typed result.

It owns the layout of ``<run_dir>/quality/<generator hash[:16]>/``: ``samples.npz`` (images,
labels, confidence, accepted), ``report.json``, ``accepted_grid.png`` and ``training_curves.png``.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_core import imaging, plots
from gan_core.config import JudgeConfig, QualityConfig
from gan_core.data.snapshot import load_snapshot
from gan_core.io.fsutil import atomic_write_bytes, atomic_write_json
from gan_core.quality.report import evaluate, label_agreement, report_markdown


@dataclass(frozen=True)
class QualityOutcome:
    """What the quality check found and wrote, as plain serialisable values.

    Attributes:
        failures: One line per failed gate check; empty when the gate passed.
        num_checks: How many gate checks ran.
        gate: ``{"passed": bool, "checks": [...]}`` for the manifest.
        label_agreement: Each judge's real-test accuracy beside its agreement with the labels.
        markdown: The quality report, grids and plots inline, for a UI artifact.
        per_class: One row per class, for a table artifact.
    """

    passed: bool
    failures: list[str]
    num_checks: int
    metrics: dict
    gate: dict
    samples_path: str
    report_path: str
    num_accepted: int
    label_agreement: dict
    markdown: str
    per_class: list[dict]


def _save_samples(path: Path, images, labels, confidences, accepted) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels, confidence=confidences.astype(np.float32), accepted=accepted)
    atomic_write_bytes(path, buffer.getvalue())


def quality_stage(
    snapshot_dir: str,
    generator_dir: str,
    judge_config: JudgeConfig,
    quality_config: QualityConfig,
    cache_root: str,
    run_dir: str,
    training_history: list[dict],
    logger: logging.Logger | logging.LoggerAdapter,
) -> QualityOutcome:
    """Generates samples, scores them with the judge and applies the gate; never publishes."""
    from gan_core.gan.sampling import load_generator  # TensorFlow: only when the stage runs
    from gan_core.quality.judge_training import train_judges

    snapshot, splits = load_snapshot(Path(snapshot_dir))
    judge, second_judge = train_judges(
        splits, judge_config, Path(cache_root) / "judges", snapshot.fingerprint, second=quality_config.second_judge
    )
    logger.info("judge test accuracy %.4f on %d real test images", judge.test_accuracy, len(splits.test_labels))
    if second_judge is not None:
        logger.info("second judge (LeNet) test accuracy %.4f", second_judge.test_accuracy)
    generator = load_generator(Path(generator_dir))
    images, labels = generator.generate_per_class(quality_config.samples_per_class, quality_config.seed)
    logger.info("generated %d samples (%d per class); scoring", len(labels), quality_config.samples_per_class)
    report = evaluate(
        images,
        labels,
        splits,
        judge,
        quality_config,
        len(splits.class_names),
        splits.class_names,
        second_judge=second_judge,
    )

    out_dir = Path(run_dir) / "quality" / generator.content_hash[:16]
    samples_path = out_dir / "samples.npz"
    _save_samples(samples_path, images, labels, report.confidences, report.accepted)
    summary = report.summary()
    atomic_write_json(out_dir / "report.json", summary)

    accepted_grid = imaging.class_grid(
        images[report.accepted], labels[report.accepted], len(splits.class_names), per_class=12
    )
    grid_png = imaging.encode_png(imaging.upscale(accepted_grid, 2))
    (out_dir / "accepted_grid.png").write_bytes(grid_png)
    markdown = report_markdown(report, grid_png)
    if training_history:
        curves = plots.training_curves_png(training_history)
        (out_dir / "training_curves.png").write_bytes(curves)
        markdown += f"\n\n### Training curves\n\n![training curves]({imaging.png_data_uri(curves)})\n"
    acceptance = plots.per_class_png(report.per_class, "acceptance_rate", "acceptance rate per class")
    markdown += f"\n\n### Acceptance per class\n\n![acceptance]({imaging.png_data_uri(acceptance)})\n"
    return QualityOutcome(
        passed=report.passed,
        failures=report.failures,
        num_checks=len(report.gate.checks),
        metrics=summary["metrics"],
        gate={"passed": summary["passed"], "checks": summary["checks"]},
        samples_path=str(samples_path),
        report_path=str(out_dir / "report.json"),
        num_accepted=summary["num_accepted"],
        label_agreement=label_agreement(summary["metrics"]),
        markdown=markdown,
        per_class=report.per_class,
    )
