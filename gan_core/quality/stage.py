"""The quality-check stage: judge, sample, score, reject and gate in one step, with a typed result.

Samples are generated, judged and staged in chunks of ``QualityConfig.chunk_size``, so memory
does not grow with ``samples_per_class`` (:mod:`gan_core.quality.streaming`). The stage owns the
layout of ``<run_dir>/quality/<generator hash[:16]>/``: ``accepted.parquet`` (the accepted rows,
staged for publish: :mod:`gan_core.quality.staging`), ``report.json``, ``accepted_grid.png`` and
``training_curves.png``. Nothing is published here, whatever the gate says.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_core import imaging, plots
from gan_core.config import JudgeConfig, QualityConfig
from gan_core.data.snapshot import load_snapshot
from gan_core.io.fsutil import atomic_write_json
from gan_core.quality.report import label_agreement, report_markdown
from gan_core.quality.staging import STAGED_FILE, AcceptedRowsWriter
from gan_core.quality.streaming import StreamingEvaluation
from gan_core.readahead import read_ahead

GRID_PER_CLASS = 12
# Chunks generated ahead in a background thread while the current one is judged and staged.
READ_AHEAD_CHUNKS = 1


@dataclass(frozen=True)
class QualityOutcome:
    """What the quality check found and wrote, as plain serialisable values.

    Attributes:
        failures: One line per failed gate check; empty when the gate passed.
        num_checks: How many gate checks ran.
        gate: ``{"passed": bool, "checks": [...]}`` for the manifest.
        accepted_path: The staged accepted rows that publish reads.
        num_samples: Samples generated and scored.
        metric_subsample: What the pairwise metrics saw (size, total, seed) for the manifest.
        label_agreement: Each judge's real-test accuracy beside its agreement with the labels.
        markdown: The quality report, grids and plots inline, for a UI artifact.
        per_class: One row per class, for a table artifact.
    """

    passed: bool
    failures: list[str]
    num_checks: int
    metrics: dict
    gate: dict
    accepted_path: str
    report_path: str
    num_samples: int
    num_accepted: int
    metric_subsample: dict
    label_agreement: dict
    markdown: str
    per_class: list[dict]


def load_judges(
    snapshot_dir: str,
    judge_config: JudgeConfig,
    quality_config: QualityConfig,
    cache_root: str,
    logger,
    teacher_dir: str | None = None,
    pseudo_path: str | None = None,
):
    """(snapshot, splits, judge, second judge or None): trained, or loaded from ``<cache_root>/judges``.

    Label-scarce mode (``teacher_dir`` and ``pseudo_path``, from
    :func:`gan_core.semisup.stage.pseudo_label_stage`): the teacher rejects, being by far the most
    accurate model there is, and the second judge, trained on the N true labels alone, checks
    the labels; it never saw a pseudo-label, so its check is not circular. The returned splits'
    train part is then everything the GAN trained on (labeled + pseudo-labelled pool), so the
    memorization and FID references include the pool; test stays the real test split.
    """
    from gan_core.quality.judge import Judge  # TensorFlow: only when the stage runs
    from gan_core.quality.judge_training import second_judge_config, train_judge, train_judges

    if (teacher_dir is None) != (pseudo_path is None):
        raise ValueError("label-scarce quality needs both teacher_dir and pseudo_path, or neither")
    snapshot, splits = load_snapshot(Path(snapshot_dir))
    if teacher_dir is None:
        judge, second_judge = train_judges(
            splits, judge_config, Path(cache_root) / "judges", snapshot.fingerprint, second=quality_config.second_judge
        )
    else:
        from gan_core.semisup.stage import load_pseudo_labels

        judge = Judge.load(Path(teacher_dir))
        second_judge = train_judge(
            splits.train_images,
            splits.train_labels,
            splits.test_images,
            splits.test_labels,
            second_judge_config(judge_config),
            cache_dir=Path(cache_root) / "judges",
            data_fingerprint=snapshot.fingerprint,
            num_classes=len(splits.class_names),
        )
        pseudo_images, pseudo_labels, _ = load_pseudo_labels(pseudo_path)
        splits = dataclasses.replace(
            splits,
            train_images=np.concatenate([splits.train_images, pseudo_images]),
            train_labels=np.concatenate([splits.train_labels.astype(np.int64), pseudo_labels]),
        )
        logger.info("label-scarce mode: the teacher rejects; the second judge saw the N true labels only")
    logger.info("judge test accuracy %.4f on %d real test images", judge.test_accuracy, len(splits.test_labels))
    if second_judge is not None:
        logger.info("second judge (LeNet) test accuracy %.4f", second_judge.test_accuracy)
    return snapshot, splits, judge, second_judge


def open_stream(splits, judge, second_judge, quality_config: QualityConfig, logger) -> StreamingEvaluation:
    """The streaming evaluation of ``samples_per_class`` samples of every class."""
    per_class, num_classes = quality_config.samples_per_class, len(splits.class_names)
    total = per_class * num_classes
    stream = StreamingEvaluation(
        splits, judge, quality_config, num_classes, splits.class_names, second_judge=second_judge, total=total
    )
    logger.info(
        "generating and scoring %d samples (%d per class) in chunks of %d; pairwise metrics on %d of them",
        total, per_class, quality_config.chunk_size, len(stream.subsample),
    )  # fmt: skip
    return stream


def quality_dir(run_dir: str, generator_hash: str) -> Path:
    """The stage's directory for one generator: ``<run_dir>/quality/<hash[:16]>``."""
    return Path(run_dir) / "quality" / generator_hash[:16]


def quality_stage(
    snapshot_dir: str,
    generator_dir: str,
    judge_config: JudgeConfig,
    quality_config: QualityConfig,
    cache_root: str,
    run_dir: str,
    training_history: list[dict],
    logger: logging.Logger | logging.LoggerAdapter,
    teacher_dir: str | None = None,
    pseudo_path: str | None = None,
    read_ahead_chunks: int = READ_AHEAD_CHUNKS,
) -> QualityOutcome:
    """Generates samples, scores them with the judge and applies the gate; never publishes.

    ``teacher_dir`` and ``pseudo_path`` switch on label-scarce judging (:func:`load_judges`).
    ``read_ahead_chunks`` chunks are generated ahead while one is judged (0: one after another).
    """
    from gan_core.gan.sampling import load_generator  # TensorFlow: only when the stage runs

    _, splits, judge, second_judge = load_judges(
        snapshot_dir, judge_config, quality_config, cache_root, logger, teacher_dir, pseudo_path
    )
    generator = load_generator(Path(generator_dir))
    stream = open_stream(splits, judge, second_judge, quality_config, logger)
    out_dir = quality_dir(run_dir, generator.content_hash)
    accepted_path = out_dir / STAGED_FILE
    grid = imaging.FirstPerClass(len(splits.class_names), GRID_PER_CLASS, splits.image_shape)
    with AcceptedRowsWriter(accepted_path, splits.image_shape) as staged:
        chunks = generator.iter_per_class(
            quality_config.samples_per_class, quality_config.seed, quality_config.chunk_size
        )
        for images, labels in read_ahead(chunks, read_ahead_chunks):
            confidences, accepted = stream.add(images, labels)
            staged.write(images[accepted], labels[accepted], confidences[accepted])
            grid.add(images[accepted], labels[accepted])
            logger.info("scored %d of %d samples, %d accepted so far", stream.tally.total, stream.total, staged.rows)
    return finish_stage(stream, grid, out_dir, training_history)


def finish_stage(
    stream: StreamingEvaluation, grid: imaging.FirstPerClass, out_dir: Path, training_history: list[dict]
) -> QualityOutcome:
    """Computes the metrics and the gate of a stream that has ended, and writes the report beside its staged rows."""
    report = stream.finish()
    summary = report.summary()
    atomic_write_json(out_dir / "report.json", summary)

    grid_png = imaging.encode_png(imaging.upscale(grid.grid(), 2))
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
        accepted_path=str(out_dir / STAGED_FILE),
        report_path=str(out_dir / "report.json"),
        num_samples=summary["num_samples"],
        num_accepted=summary["num_accepted"],
        metric_subsample=summary["metric_subsample"],
        label_agreement=label_agreement(summary["metrics"]),
        markdown=markdown,
        per_class=report.per_class,
    )
