"""Exporting a trained generator and drawing labeled samples from it.

An exported generator is a directory with ``config.json`` (architecture, class names, format
version) and ``weights.npz`` (the weights in layer order). Both are written deterministically,
so the directory's content hash identifies the generator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import keras
import numpy as np
import tensorflow as tf

from gan_core import imaging
from gan_core.config import STREAM_BLOCK, ModelConfig
from gan_core.io.fsutil import atomic_write_bytes, atomic_write_json, npz_bytes
from gan_core.io.exports import read_export_meta
from gan_core.io.hashing import sha256_tree
from gan_core.gan.models import build_generator

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
GRID_PER_CLASS = 10


class GeneratorLoadError(ValueError):
    """An exported generator directory is missing, incomplete or from another format."""


def export_generator(
    generator: keras.Model,
    model_config: ModelConfig,
    directory: Path,
    class_names: tuple[str, ...] | None = None,
    extra: dict | None = None,
) -> str:
    """Writes the generator's config and weights; returns the directory's content hash."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {f"w{index:03d}": np.asarray(weight) for index, weight in enumerate(generator.get_weights())}
    buffer = npz_bytes(arrays)
    atomic_write_bytes(directory / "weights.npz", buffer)
    atomic_write_json(
        directory / "config.json",
        {
            "format_version": FORMAT_VERSION,
            "model": model_config.resolved(),
            "class_names": list(class_names) if class_names else [str(i) for i in range(model_config.num_classes)],
            **(extra or {}),
        },
    )
    return sha256_tree(directory)


@dataclass(eq=False)  # identity hashing: tf.function keys its traces on the instance
class TrainedGenerator:
    """A loaded generator that turns class labels into uint8 images."""

    model: keras.Model
    model_config: ModelConfig
    class_names: tuple[str, ...]
    content_hash: str

    def generate(self, labels: np.ndarray, seed: int, batch_size: int = STREAM_BLOCK) -> np.ndarray:
        """Draws one image per label with seeded noise; returns uint8 (N, S, S, C)."""
        labels = np.asarray(labels, dtype=np.int32)
        if labels.ndim != 1 or (len(labels) and (labels.min() < 0 or labels.max() >= self.model_config.num_classes)):
            raise ValueError(f"labels must be a 1-D array in [0, {self.model_config.num_classes})")
        rng = tf.random.Generator.from_seed(seed)
        return self._draw(rng, labels, batch_size)

    def _draw(self, rng: tf.random.Generator, labels: np.ndarray, batch_size: int) -> np.ndarray:
        outputs = []
        for start in range(0, len(labels), batch_size):
            chunk = labels[start : start + batch_size].astype(np.int32)
            noise = rng.normal([len(chunk), self.model_config.latent_dim])
            outputs.append(imaging.to_uint8(self._forward(noise, tf.constant(chunk)).numpy()))
        if not outputs:
            return np.zeros((0, *self.image_shape), dtype=np.uint8)
        return np.concatenate(outputs)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the images it draws."""
        size = self.model_config.image_size
        return size, size, self.model_config.channels

    @tf.function(reduce_retracing=True)
    def _forward(self, noise: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        return self.model([noise, labels], training=False)

    def generate_per_class(self, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Draws ``per_class`` samples of every class; returns (images, labels)."""
        labels = np.repeat(np.arange(self.model_config.num_classes, dtype=np.int64), per_class)
        return self.generate(labels, seed), labels

    def iter_per_class(
        self, per_class: int, seed: int, chunk_size: int, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yields the samples of :meth:`generate_per_class` as (images, labels) chunks of ``chunk_size``.

        The noise is drawn in blocks of ``STREAM_BLOCK`` from one generator, as ``generate`` does,
        so the samples are the same for every chunk size that is a multiple of the block. ``start``
        and ``stop`` give a slice of that stream (a shard): the generator skips the noise of the
        blocks before ``start``, so the slice holds exactly the samples the whole stream has there.

        Raises:
            ValueError: ``chunk_size`` or ``start`` is not a multiple of ``STREAM_BLOCK``.
        """
        if chunk_size < STREAM_BLOCK or chunk_size % STREAM_BLOCK:
            raise ValueError(f"chunk_size must be a positive multiple of {STREAM_BLOCK}, got {chunk_size}")
        if start < 0 or start % STREAM_BLOCK:
            raise ValueError(f"start must be a multiple of {STREAM_BLOCK}, got {start}")
        total = per_class * self.model_config.num_classes
        stop = total if stop is None else min(stop, total)
        rng = tf.random.Generator.from_seed(seed)
        # Counter-based: skipping n draws leaves the state normal() of n values would (checked in tests).
        rng.skip(start * self.model_config.latent_dim)
        for chunk_start in range(start, stop, chunk_size):
            # Labels are computed per chunk, never held for the whole stream.
            labels = np.arange(chunk_start, min(chunk_start + chunk_size, stop), dtype=np.int64) // per_class
            yield self._draw(rng, labels, STREAM_BLOCK), labels


def load_generator(directory: Path) -> TrainedGenerator:
    """Loads an exported generator in float32, whatever policy it was trained with.

    Raises:
        GeneratorLoadError: the directory is not a complete export of this format.
    """
    directory = Path(directory)
    config = read_export_meta(
        directory,
        "config.json",
        ("weights.npz",),
        FORMAT_VERSION,
        GeneratorLoadError,
        "an exported generator",
        "train one first or point at a run's 'generator' directory",
    )
    weights_path = directory / "weights.npz"
    model_config = ModelConfig(**config["model"])
    model = build_generator(model_config, "float32")
    with np.load(weights_path) as stored:
        weights = [stored[key] for key in sorted(stored.files)]
    try:
        model.set_weights(weights)
    except ValueError as error:
        raise GeneratorLoadError(f"{weights_path} does not match the architecture in config.json: {error}") from error
    return TrainedGenerator(model, model_config, tuple(config["class_names"]), sha256_tree(directory))


def grid_png(generator: TrainedGenerator, seed: int, per_class: int = GRID_PER_CLASS, scale: int = 2) -> bytes:
    """A PNG with one row per class, for reports and the UI."""
    images, labels = generator.generate_per_class(per_class, seed)
    grid = imaging.class_grid(images, labels, generator.model_config.num_classes, per_class)
    return imaging.encode_png(imaging.upscale(grid, scale))
