"""Prefect wrapper for the quality check: judge, metrics, per-sample rejection and the gate report."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact


class GateFailedError(RuntimeError):
    """The quality gate refused the run; the message lists each failed check and its threshold."""


def _save_samples(path: Path, images, labels, confidences, accepted) -> None:
    from gan_core.io.fsutil import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels, confidence=confidences.astype(np.float32), accepted=accepted)
    atomic_write_bytes(path, buffer.getvalue())


@task(name="quality-check", retries=0)
def quality_task(
    snapshot_dir: str,
    generator_dir: str,
    judge_config,
    quality_config,
    cache_root: str,
    run_dir: str,
    training_history: list[dict],
) -> dict:
    """Generates samples, scores them with the judge and applies the gate; never publishes."""
    from gan_core import data, imaging, plots, quality
    from gan_core.io.fsutil import atomic_write_json
    from gan_core.quality.judge_training import second_judge_config, train_judge
    from gan_core.gan.sampling import load_generator

    logger = get_run_logger()
    snapshot, splits = data.load_snapshot(Path(snapshot_dir))
    judge = train_judge(
        splits.train_images, splits.train_labels, splits.test_images, splits.test_labels,
        judge_config, cache_dir=Path(cache_root) / "judges", data_fingerprint=snapshot.fingerprint,
        num_classes=len(splits.class_names),
    )
    logger.info("judge test accuracy %.4f on %d real test images", judge.test_accuracy, len(splits.test_labels))
    second_judge = None
    if quality_config.second_judge:
        second_judge = train_judge(
            splits.train_images, splits.train_labels, splits.test_images, splits.test_labels,
            second_judge_config(judge_config), cache_dir=Path(cache_root) / "judges",
            data_fingerprint=snapshot.fingerprint, num_classes=len(splits.class_names),
        )
        logger.info("second judge (LeNet) test accuracy %.4f", second_judge.test_accuracy)
    generator = load_generator(Path(generator_dir))
    images, labels = generator.generate_per_class(quality_config.samples_per_class, quality_config.seed)
    logger.info("generated %d samples (%d per class); scoring", len(labels), quality_config.samples_per_class)
    report = quality.evaluate(
        images, labels, splits, judge, quality_config, len(splits.class_names), splits.class_names,
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
    markdown = quality.report_markdown(report, grid_png)
    if training_history:
        curves = plots.training_curves_png(training_history)
        (out_dir / "training_curves.png").write_bytes(curves)
        markdown += f"\n\n### Training curves\n\n![training curves]({imaging.png_data_uri(curves)})\n"
    acceptance = plots.per_class_png(report.per_class, "acceptance_rate", "acceptance rate per class")
    markdown += f"\n\n### Acceptance per class\n\n![acceptance]({imaging.png_data_uri(acceptance)})\n"
    create_markdown_artifact(key="quality-report", markdown=markdown, description="GAN sample quality and gate")
    create_table_artifact(key="per-class-quality", table=report.per_class, description="Per-class generation and rejection")

    verdict = "PASSED" if report.passed else "FAILED"
    logger.info("quality gate %s: %s", verdict, json.dumps({k: round(v, 4) for k, v in report.metrics.items()}))
    for line in report.failures:
        logger.error("gate: %s", line)
    return {
        "passed": report.passed,
        "failures": report.failures,
        "metrics": summary["metrics"],
        "gate": {"passed": summary["passed"], "checks": summary["checks"]},
        "samples_path": str(samples_path),
        "report_path": str(out_dir / "report.json"),
        "num_accepted": summary["num_accepted"],
    }
