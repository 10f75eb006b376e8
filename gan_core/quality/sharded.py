"""The quality stage cut into shards that can run in other processes (Dask workers), then merged.

A shard is one chunk of the sample stream, ``[start, stop)`` with ``start`` a multiple of
``QualityConfig.chunk_size``. It generates exactly the samples the in-process stream has there
(the generator skips the noise of earlier blocks), judges them, tallies them per block and
stages its accepted rows to its own file. Everything a shard needs arrives as paths and plain
values, so any worker that sees the run's files can score any shard; shards share no state.

The merge takes the shards in stream order: it adds their per-block tallies one block at a time
(the float sums come out bit for bit as in process), gathers the metric subsample from the
shards that hold its rows, concatenates the staged rows into the one file publish reads, and
applies the gate. The result is the in-process stage's, whatever ran the shards and in what order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_core import imaging
from gan_core.config import JudgeConfig, QualityConfig
from gan_core.io.faults import fault_point
from gan_core.io.fsutil import atomic_write_bytes, npz_bytes
from gan_core.io.hashing import sha256_tree
from gan_core.quality.stage import (
    GRID_PER_CLASS,
    READ_AHEAD_CHUNKS,
    QualityOutcome,
    finish_stage,
    load_judges,
    open_stream,
    quality_dir,
)
from gan_core.quality.staging import STAGED_FILE, AcceptedRowsWriter, iter_staged
from gan_core.quality.streaming import judge_chunk, subsample_rows
from gan_core.quality.tally import SampleTally
from gan_core.readahead import read_ahead

Logger = logging.Logger | logging.LoggerAdapter


@dataclass(frozen=True)
class QualityInputs:
    """The quality stage's inputs, as paths and configs, for every task of a sharded run."""

    snapshot_dir: str
    generator_dir: str
    judge_config: JudgeConfig
    quality_config: QualityConfig
    cache_root: str
    run_dir: str
    training_history: list[dict]


@dataclass(frozen=True)
class ShardPlan:
    """What every shard needs, as paths and plain values (sent to workers, so no arrays or models).

    Attributes:
        judge_dir: The cached rejecting judge.
        second_judge_dir: The cached second judge, or None when it is switched off.
        out_dir: The stage's directory for this generator; shards stage under ``shards/``.
        total: Samples in the whole stream.
        image_shape: (H, W, C) of the images.
        num_classes: Number of classes.
        ranges: ``(start, stop)`` of each shard, in stream order.
    """

    judge_dir: str
    second_judge_dir: str | None
    out_dir: str
    total: int
    image_shape: tuple[int, int, int]
    num_classes: int
    ranges: list[tuple[int, int]]


@dataclass(frozen=True)
class ShardResult:
    """One scored shard: where its rows went and its counts (a few numbers per block)."""

    index: int
    start: int
    stop: int
    staged_path: str
    subsample_path: str
    num_accepted: int
    tally: SampleTally


def plan_shards(inputs: QualityInputs, logger: Logger) -> ShardPlan:
    """Trains the judges (or finds them cached) and cuts the stream into shards of ``chunk_size``."""
    from gan_core.quality.judge_training import cached_judge_dir, second_judge_config

    judge_config, quality_config = inputs.judge_config, inputs.quality_config
    snapshot, splits, _, _ = load_judges(inputs.snapshot_dir, judge_config, quality_config, inputs.cache_root, logger)
    judges = Path(inputs.cache_root) / "judges"
    second = second_judge_config(judge_config) if quality_config.second_judge else None
    total = quality_config.samples_per_class * len(splits.class_names)
    chunk = quality_config.chunk_size
    ranges = [(start, min(start + chunk, total)) for start in range(0, total, chunk)]
    logger.info("%d samples cut into %d shards of up to %d", total, len(ranges), chunk)
    return ShardPlan(
        judge_dir=str(cached_judge_dir(judges, snapshot.fingerprint, judge_config)),
        second_judge_dir=str(cached_judge_dir(judges, snapshot.fingerprint, second)) if second else None,
        out_dir=str(quality_dir(inputs.run_dir, sha256_tree(Path(inputs.generator_dir)))),
        total=total,
        image_shape=splits.image_shape,
        num_classes=len(splits.class_names),
        ranges=ranges,
    )


def score_shard(plan: ShardPlan, inputs: QualityInputs, index: int, logger: Logger) -> ShardResult:
    """Generates, judges, tallies and stages shard ``index``; loads the generator and judges from their paths."""
    from gan_core.gan.sampling import load_generator  # TensorFlow: only where a shard runs
    from gan_core.quality.judge import Judge

    start, stop = plan.ranges[index]
    quality_config = inputs.quality_config
    judge = Judge.load(Path(plan.judge_dir))
    second_judge = Judge.load(Path(plan.second_judge_dir)) if plan.second_judge_dir else None
    generator = load_generator(Path(inputs.generator_dir))
    subsample = subsample_rows(plan.total, quality_config.metric_subsample, quality_config.seed)
    shard_dir = Path(plan.out_dir) / "shards"
    staged_path = shard_dir / f"accepted-{index:05d}.parquet"
    tally, kept_images, kept_labels = SampleTally(plan.num_classes), [], []
    chunks = generator.iter_per_class(
        quality_config.samples_per_class, quality_config.seed, quality_config.chunk_size, start, stop
    )
    offset = start
    with AcceptedRowsWriter(staged_path, plan.image_shape) as staged:
        for images, labels in read_ahead(chunks, READ_AHEAD_CHUNKS):
            probabilities, confidences, accepted, second_agrees = judge_chunk(
                judge, second_judge, images, labels, quality_config.gate.min_confidence
            )
            tally.add(labels, probabilities, confidences, accepted, second_agrees)
            staged.write(images[accepted], labels[accepted], confidences[accepted])
            rows = subsample[(subsample >= offset) & (subsample < offset + len(labels))] - offset
            offset += len(labels)
            kept_images.append(images[rows])
            kept_labels.append(labels[rows])
    tally.close()
    subsample_path = shard_dir / f"subsample-{index:05d}.npz"
    atomic_write_bytes(
        subsample_path, npz_bytes({"images": np.concatenate(kept_images), "labels": np.concatenate(kept_labels)})
    )
    # Numbered by shard, not by arrival in this process, so a test fails the same shard on any worker.
    fault_point("quality.shard_scored", arrival=index + 1)
    logger.info("shard %d: samples %d-%d scored, %d accepted", index, start, stop, staged.rows)
    return ShardResult(index, start, stop, str(staged_path), str(subsample_path), staged.rows, tally)


def merge_shards(plan: ShardPlan, results: list[ShardResult], inputs: QualityInputs, logger: Logger) -> QualityOutcome:
    """Merges every shard in stream order, stages the accepted rows in one file and applies the gate.

    Raises:
        ValueError: the results do not cover the planned shards exactly once each.
    """
    results = sorted(results, key=lambda result: result.index)
    if [(result.start, result.stop) for result in results] != [tuple(pair) for pair in plan.ranges]:
        raise ValueError(
            f"shard results {[r.index for r in results]} do not cover the {len(plan.ranges)} planned shards"
        )
    quality_config = inputs.quality_config
    _, splits, judge, second_judge = load_judges(
        inputs.snapshot_dir, inputs.judge_config, quality_config, inputs.cache_root, logger
    )
    stream = open_stream(splits, judge, second_judge, quality_config, logger)
    grid = imaging.FirstPerClass(plan.num_classes, GRID_PER_CLASS, plan.image_shape)
    out_dir = Path(plan.out_dir)
    with AcceptedRowsWriter(out_dir / STAGED_FILE, plan.image_shape) as staged:
        for result in results:
            for images, labels, confidences in iter_staged(Path(result.staged_path), quality_config.chunk_size):
                staged.write(images, labels, confidences)
                grid.add(images, labels)
            with np.load(result.subsample_path) as kept:
                stream.add_shard(result.tally, kept["images"], kept["labels"])
    logger.info("merged %d shards: %d of %d samples accepted", len(results), staged.rows, plan.total)
    return finish_stage(stream, grid, out_dir, inputs.training_history)
