"""Training the judge, and its cache keyed by (data fingerprint, config hash)."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import keras
import numpy as np

from gan_core import imaging
from gan_core.config import JudgeConfig
from gan_core.quality.judge import PROGRESS_SECONDS, Judge, JudgeError, arrays_fingerprint, build_judge_model, config_hash, seeded

logger = logging.getLogger("gan_core.quality.judge")  # one logger for the judge, trained or used

class _EpochLogger(keras.callbacks.Callback):
    """Logs one line per epoch through ``logging`` instead of Keras' progress bar, and a progress
    line within an epoch every ``PROGRESS_SECONDS``."""

    def __init__(self, epochs: int, steps_per_epoch: int):
        super().__init__()
        self._epochs = epochs
        self._steps = steps_per_epoch
        self._started = 0.0
        self._last_report = 0.0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = self._last_report = time.perf_counter()
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if now - self._last_report >= PROGRESS_SECONDS:
            self._last_report = now
            logger.info(
                "judge epoch %d/%d: batch %d/%d (%.0f%%), %.1f s into the epoch",
                self._epoch + 1, self._epochs, batch + 1, self._steps, 100.0 * (batch + 1) / self._steps,
                now - self._started,
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        logger.info(
            "judge epoch %d/%d: loss %.4f, train accuracy %.4f, test accuracy %.4f (%.1f s)",
            epoch + 1,
            self._epochs,
            logs.get("loss", float("nan")),
            logs.get("accuracy", float("nan")),
            logs.get("val_accuracy", float("nan")),
            time.perf_counter() - self._started,
        )


def second_judge_config(config: JudgeConfig) -> JudgeConfig:
    """The second judge: the LeNet layout, another seed, the same budget as the rejecting judge."""
    return config.model_copy(update={"architecture": "lenet", "seed": config.seed + 1})


def cache_key(data_fingerprint: str, config: JudgeConfig) -> str:
    """Names a cached judge by what determines it: the data and the config."""
    return hashlib.sha256(f"{data_fingerprint}:{config_hash(config)}".encode()).hexdigest()[:20]


def cached_judge_dir(cache_dir: Path, data_fingerprint: str, config: JudgeConfig) -> Path:
    """Where the judge of this data and config is cached (what :func:`train_judge` writes)."""
    return Path(cache_dir) / f"judge-{cache_key(data_fingerprint, config)}"


def train_judge(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    config: JudgeConfig,
    cache_dir: Path | None = None,
    data_fingerprint: str | None = None,
    num_classes: int | None = None,
) -> Judge:
    """Trains the judge on real data, or loads it from ``cache_dir`` when this exact one exists.

    Args:
        train_images: Real uint8 (N, H, W) training images.
        train_labels: Their int labels.
        test_images: Real held-out images, used for per-epoch logging and ``test_accuracy``.
        test_labels: Their int labels.
        config: Judge hyper-parameters and seed.
        cache_dir: Where judges are cached as ``judge-<key>/``; None disables caching.
        data_fingerprint: Identifies the data (e.g. the snapshot fingerprint); None hashes the arrays.
        num_classes: Number of classes; None uses ``max(label) + 1`` over both splits.

    Raises:
        JudgeError: malformed images or labels.
    """
    train_images = imaging.check_images(train_images, "train_images", error=JudgeError)
    test_images = imaging.check_images(test_images, "test_images", error=JudgeError)
    if train_images.shape[1:] != test_images.shape[1:]:
        raise JudgeError(
            f"train images are {train_images.shape[1:]} but test images are {test_images.shape[1:]}: "
            "both splits must share one image size"
        )
    if len(train_images) == 0 or len(test_images) == 0:
        raise JudgeError("the judge needs at least one train and one test image")
    if num_classes is None:
        num_classes = int(max(np.max(train_labels), np.max(test_labels))) + 1
    if num_classes < 2:
        raise JudgeError(f"the judge needs at least 2 classes, got num_classes={num_classes}")
    train_labels = imaging.check_labels(train_labels, len(train_images), num_classes, "train_labels", error=JudgeError)
    test_labels = imaging.check_labels(test_labels, len(test_images), num_classes, "test_labels", error=JudgeError)

    cached: Path | None = None
    if cache_dir is not None:
        if data_fingerprint is None:
            data_fingerprint = arrays_fingerprint(train_images, train_labels, test_images, test_labels)
        cached = cached_judge_dir(cache_dir, data_fingerprint, config)
        if cached.exists():
            judge = Judge.load(cached)
            logger.info("judge cache hit %s (test accuracy %.4f)", cached, judge.test_accuracy)
            return judge

    image_shape = tuple(int(side) for side in train_images.shape[1:])
    steps_per_epoch = -(-len(train_images) // config.batch_size)
    logger.info(
        "training %s judge on %d images (%d classes, %d epochs, augment=%s)",
        config.architecture, len(train_images), num_classes, config.epochs, config.augment,
    )
    started = time.perf_counter()
    with seeded(config.seed):
        model = build_judge_model(image_shape, num_classes, config.augment, config.seed, config.architecture)
        schedule = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch
        )
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        model.fit(
            train_images,
            train_labels,
            batch_size=config.batch_size,
            epochs=config.epochs,
            validation_data=(test_images, test_labels),
            callbacks=[_EpochLogger(config.epochs, steps_per_epoch)],
            verbose=0,
        )
    metadata = {"config": config.resolved(), "data_fingerprint": data_fingerprint,
                "train_size": len(train_images), "test_size": len(test_images)}
    judge = Judge(model, test_accuracy=0.0, metadata=metadata)
    judge.test_accuracy = judge.accuracy(test_images, test_labels)
    logger.info(
        "judge trained in %.1f s: test accuracy %.4f", time.perf_counter() - started, judge.test_accuracy
    )
    if cached is not None:
        try:
            judge.save(cached)
        except FileExistsError:
            # Another process finished the same judge first; both are equivalent, keep theirs.
            logger.info("judge cache %s appeared while training; using the trained copy in memory", cached)
        else:
            logger.info("judge cached at %s", cached)
    return judge


def train_judges(
    splits, config: JudgeConfig, cache_dir: Path | None, data_fingerprint: str | None = None, second: bool = True
) -> tuple[Judge, Judge | None]:
    """The rejecting judge and, with ``second``, the second judge, both on one set of real splits.

    Args:
        splits: Real data with train_images/train_labels/test_images/test_labels and class_names
            (e.g. :class:`gan_core.data.splits.LabeledSplits`).
        config: The rejecting judge's config; the second judge's follows from it
            (:func:`second_judge_config`).
        cache_dir: Where both are cached; None disables caching.
        data_fingerprint: Identifies the data; None hashes the arrays.
        second: Whether to train the second judge.
    """

    def on_real(judge_config: JudgeConfig) -> Judge:
        return train_judge(
            splits.train_images, splits.train_labels, splits.test_images, splits.test_labels, judge_config,
            cache_dir=cache_dir, data_fingerprint=data_fingerprint, num_classes=len(splits.class_names),
        )

    return on_real(config), on_real(second_judge_config(config)) if second else None
