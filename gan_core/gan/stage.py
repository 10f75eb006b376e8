"""The train-GAN stage: one step that trains (or resumes) a run on a snapshot, and a typed result."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from gan_core.config import EXTENDABLE_TRAIN_FIELDS, ModelConfig, TrainConfig
from gan_core.data.snapshot import load_snapshot
from gan_core.gan.train import IntervalStats, train_gan
from gan_core.io.hashing import payload_digest, sha256_file
from gan_core.semisup.stage import load_pseudo_labels


@dataclass(frozen=True)
class TrainOutcome:
    """A finished training run, as plain serialisable values.

    Attributes:
        history: One dict per logged interval (``IntervalStats`` fields).
        images_per_second: Whole-run rate, checkpoints and logs included; None if nothing ran.
    """

    run_dir: str
    generator_dir: str
    generator_hash: str
    dtype_policy: str
    resumed_from_step: int
    history: list[dict]
    images_per_second: float | None
    train_seconds: float
    steps: int  # generator steps trained: the step budget, or fewer when the time budget ran out
    model_config: dict  # resolved ModelConfig as trained: classes and geometry from the data


def run_key(
    snapshot_fingerprint: str, model_config: ModelConfig, train_config: TrainConfig, pseudo_sha256: str | None = None
) -> str:
    """Names a training run by its data and settings; the step budget and the logging/checkpoint
    cadence are left out, so a longer run extends a shorter one. A pseudo-labelled set is part
    of the data; without one the key is what it always was."""
    settings = {"model": model_config.resolved(), "train": train_config.resolved()}
    for field in EXTENDABLE_TRAIN_FIELDS:
        settings["train"].pop(field)
    if pseudo_sha256 is not None:
        settings["pseudo_sha256"] = pseudo_sha256
    return f"{snapshot_fingerprint[:12]}-{payload_digest(settings, 12)}"


def train_stage(
    snapshot_dir: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    runs_root: str,
    logger: logging.Logger | logging.LoggerAdapter,
    on_progress: Callable[[IntervalStats], None] | None = None,
    pseudo_path: str | None = None,
) -> TrainOutcome:
    """Trains (or resumes) the conditional GAN on a snapshot in ``runs_root/<run_key>/``.

    With ``pseudo_path`` (label-scarce mode: a ``pseudo.npz`` from
    :func:`gan_core.semisup.stage.pseudo_label_stage`) the GAN trains on the N labeled images
    plus the pseudo-labelled pool images, sampled uniformly together.
    """
    snapshot, splits = load_snapshot(Path(snapshot_dir))
    images, labels, pseudo_sha256 = splits.train_images, splits.train_labels, None
    if pseudo_path is not None:
        pseudo_images, pseudo_labels, _ = load_pseudo_labels(pseudo_path)
        pseudo_sha256 = sha256_file(Path(pseudo_path))
        images = np.concatenate([images, pseudo_images])
        labels = np.concatenate([labels.astype(np.int64), pseudo_labels])
        logger.info(
            "label-scarce mode: %d labeled + %d pseudo-labelled images", len(splits.train_labels), len(pseudo_labels)
        )
    # Resolved before the key, so the run directory names the policy and geometry actually trained with.
    train_config = train_config.for_training_set(len(labels))
    model_config = model_config.for_data(len(splits.class_names), splits.image_shape)
    run_dir = Path(runs_root) / run_key(snapshot.fingerprint, model_config, train_config, pseudo_sha256)
    logger.info(
        "training on %d images of %s for %d steps (batch %d, precision %s, DiffAugment %r) in %s",
        len(labels),
        "x".join(map(str, splits.image_shape)),
        train_config.steps,
        train_config.batch_size,
        train_config.precision,
        train_config.diffaugment,
        run_dir,
    )
    result = train_gan(
        images,
        labels,
        model_config,
        train_config,
        run_dir,
        class_names=splits.class_names,
        on_progress=on_progress,
    )
    if result.resumed_from_step:
        logger.info("resumed from step %d", result.resumed_from_step)
    return TrainOutcome(
        run_dir=str(result.run_dir),
        generator_dir=str(result.generator_dir),
        generator_hash=result.generator_hash,
        dtype_policy=result.dtype_policy,
        resumed_from_step=result.resumed_from_step,
        history=[asdict(row) for row in result.history],
        images_per_second=result.images_per_second,
        train_seconds=result.train_seconds,
        steps=result.steps,
        model_config=model_config.resolved(),
    )
