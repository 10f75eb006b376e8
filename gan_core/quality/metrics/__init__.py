"""Metric registry, StyleGAN2-ADA style: each metric is a small module registered by name.

A metric is a function ``(MetricContext) -> dict[str, float]`` whose keys carry the metric's
prefix. :class:`MetricContext` holds the synthetic and real arrays plus the judge, and caches
judge features, probabilities and pixel nearest-neighbour distances, so FID, precision/recall
and data copying embed each set once.

Each metric module also exposes the underlying math as pure functions on arrays (for example
:func:`gan_core.quality.metrics.fid.frechet_distance`), tested with known answers.

Usage::

    from gan_core.quality import metrics
    results = metrics.compute(["fid", "label_fidelity"], context)
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol

import numpy as np

from gan_core.imaging import check_images, check_labels

logger = logging.getLogger(__name__)

MetricFn = Callable[["MetricContext"], dict[str, float]]
SetName = Literal["synthetic", "train", "test"]
SET_NAMES: tuple[str, ...] = ("synthetic", "train", "test")

# What a quality run computes unless told otherwise (QualityConfig.metrics), in the order they run;
# 'cas' is left out because it trains two extra models.
DEFAULT_METRICS: tuple[str, ...] = (
    "label_fidelity",
    "fid",
    "memorization",
    "class_balance",
    "classifier_score",
    "precision_recall",
    "density_coverage",
    "data_copying",
)

_REGISTRY: dict[str, MetricFn] = {}
# Every module of this package registers built-in metrics on import; they are found on disk
# and imported on first use, so importing gan_core.quality.metrics stays cheap and there is no
# second list of names to keep in step with the modules.
_builtins_loaded = False


class FeatureExtractor(Protocol):
    """What metrics need from a judge: softmax probabilities and penultimate features."""

    def predict_proba(self, images: np.ndarray) -> np.ndarray: ...

    def features(self, images: np.ndarray) -> np.ndarray: ...


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis, float32."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / np.sum(exp, axis=-1, keepdims=True)).astype(np.float32)


def judge_outputs(judge: FeatureExtractor, images: np.ndarray, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Returns a judge's (features, probabilities) of ``images``, float32.

    Args:
        judge: A :class:`FeatureExtractor`; one with ``embed`` (the real judge) yields both in one pass.
        images: uint8 (n, H, W).
        cache: Whether the judge may keep the result (a streamed chunk is never scored twice).
    """
    embed = getattr(judge, "embed", None)
    if embed is not None:
        features, logits = embed(images, cache=cache)
        probabilities = softmax(logits)
    else:
        features, probabilities = judge.features(images), judge.predict_proba(images)
    return np.asarray(features, np.float32), np.asarray(probabilities, np.float32)


def register(name: str) -> Callable[[MetricFn], MetricFn]:
    """Registers a metric function under ``name``.

    Raises:
        ValueError: ``name`` is already registered to a different function.
    """

    def decorator(function: MetricFn) -> MetricFn:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != function.__qualname__:
            raise ValueError(f"metric {name!r} is already registered by {existing.__module__}")
        _REGISTRY[name] = function
        return function

    return decorator


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for module in sorted(info.name for info in pkgutil.iter_modules(__path__)):
            importlib.import_module(f"{__name__}.{module}")
        _builtins_loaded = True


def available() -> list[str]:
    """Returns the registered metric names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get(name: str) -> MetricFn:
    """Returns the metric function registered as ``name``.

    Raises:
        ValueError: unknown name; the message lists the available ones.
    """
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown metric {name!r}: available metrics are {', '.join(available())}")
    return _REGISTRY[name]


def compute(names, context: "MetricContext") -> dict[str, float]:
    """Computes each named metric (duplicates once, in order) and merges their results.

    Raises:
        ValueError: an unknown name (checked before anything is computed), or two metrics
            returning the same key.
    """
    if isinstance(names, str):
        names = [names]
    ordered = list(dict.fromkeys(names))
    known = available()
    unknown = [name for name in ordered if name not in known]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}: available metrics are {', '.join(known)}")
    results: dict[str, float] = {}
    for name in ordered:
        started = time.perf_counter()
        values = _REGISTRY[name](context)
        clashes = sorted(set(values) & set(results))
        if clashes:
            raise ValueError(f"metric {name!r} returned keys {clashes} that an earlier metric already set")
        results.update({key: float(value) for key, value in values.items()})
        logger.info(
            "metric %s in %.1f s: %s",
            name,
            time.perf_counter() - started,
            ", ".join(f"{key}={value:.4g}" for key, value in values.items() if not key.startswith("count_")),
        )
    return results


@dataclass(eq=False)
class MetricContext:
    """Everything a metric may look at, with lazily cached embeddings.

    Args:
        synthetic_images: uint8 (n, H, W) generated images.
        synthetic_labels: The labels the generator was conditioned on.
        real_train_images: Real images the GAN (and the judge) trained on.
        real_train_labels: Their labels.
        real_test_images: Real held-out images, never trained on.
        real_test_labels: Their labels.
        num_classes: Number of classes.
        judge: Supplies ``predict_proba`` and ``features`` (a :class:`gan_core.quality.judge.Judge`).
        seed: Seeds every subsample a metric draws, so results are reproducible.
    """

    synthetic_images: np.ndarray
    synthetic_labels: np.ndarray
    real_train_images: np.ndarray
    real_train_labels: np.ndarray
    real_test_images: np.ndarray
    real_test_labels: np.ndarray
    num_classes: int
    judge: FeatureExtractor
    seed: int = 0
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if int(self.num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}")
        self.num_classes = int(self.num_classes)
        shapes = {}
        for which in SET_NAMES:
            prefix = "synthetic" if which == "synthetic" else f"real_{which}"
            images = check_images(getattr(self, f"{prefix}_images"), f"{prefix}_images")
            labels = check_labels(getattr(self, f"{prefix}_labels"), len(images), self.num_classes, f"{prefix}_labels")
            if len(images) == 0:
                raise ValueError(f"{prefix}_images is empty: every set needs at least one image")
            setattr(self, f"{prefix}_images", images)
            setattr(self, f"{prefix}_labels", labels)
            shapes[prefix] = images.shape[1:]
        if len(set(shapes.values())) != 1:
            raise ValueError(f"all image sets must share one size, got {shapes}")

    def images(self, which: SetName) -> np.ndarray:
        """Returns the uint8 images of 'synthetic', 'train' or 'test'."""
        return getattr(self, self._attribute(which) + "_images")

    def labels(self, which: SetName) -> np.ndarray:
        """Returns the int64 labels of 'synthetic', 'train' or 'test'."""
        return getattr(self, self._attribute(which) + "_labels")

    @staticmethod
    def _attribute(which: str) -> str:
        if which not in SET_NAMES:
            raise ValueError(f"unknown set {which!r}: use one of {SET_NAMES}")
        return "synthetic" if which == "synthetic" else f"real_{which}"

    def _cached(self, key: tuple, build: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _embed(self, which: SetName) -> tuple[np.ndarray, np.ndarray]:
        return self._cached(("embed", which), lambda: judge_outputs(self.judge, self.images(which)))

    def features(self, which: SetName) -> np.ndarray:
        """Returns judge penultimate features (n, d) float32 of a set, computed once."""
        return self._embed(which)[0]

    def probabilities(self, which: SetName) -> np.ndarray:
        """Returns judge class probabilities (n, C) float32 of a set, computed once."""
        probabilities = self._embed(which)[1]
        if probabilities.shape[1] != self.num_classes:
            raise ValueError(
                f"the judge predicts {probabilities.shape[1]} classes but the context has "
                f"num_classes={self.num_classes}"
            )
        return probabilities

    def pixels(self, which: SetName) -> np.ndarray:
        """Returns a set's images flattened to float32 (n, H*W) in [0, 1], computed once."""
        return self._cached(
            ("pixels", which),
            lambda: self.images(which).reshape(len(self.images(which)), -1).astype(np.float32) / 255.0,
        )

    def train_nn_distances(self, which: SetName) -> np.ndarray:
        """Returns each image's pixel-space L2 distance to its nearest real train image."""
        from gan_core.quality.metrics.neighbors import nearest_neighbors

        return self._cached(("train_nn", which), lambda: nearest_neighbors(self.pixels(which), self.pixels("train"))[0])

    def rng(self, purpose: str) -> np.random.Generator:
        """Returns a generator seeded by (seed, purpose): metrics draw independently, reproducibly."""
        digest = hashlib.sha256(f"{self.seed}:{purpose}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def subsample_indices(self, which: SetName, count: int, purpose: str) -> np.ndarray:
        """Returns ``count`` sorted distinct row indices of a set (all rows if it has no more)."""
        size = len(self.images(which))
        if count >= size:
            return np.arange(size)
        return np.sort(self.rng(f"{purpose}:{which}").choice(size, size=count, replace=False))
