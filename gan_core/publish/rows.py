"""Row blocks to publish (:class:`Rows`) and their checks, all done before anything touches the disk."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from gan_core.imaging import CHANNELS, MAX_SIDE, MIN_SIDE, check_images, check_labels
from gan_core.publish.schema import SOURCES

_SPLIT_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass(frozen=True)
class Rows:
    """One block of rows to publish: same source and split for every row.

    Attributes:
        images: (N, H, W, C) uint8 pixels, C 1 or 3 ((N, H, W) is taken as grayscale).
        labels: (N,) integer class indices into ``class_names``.
        source: "real" or "synthetic".
        split: Split name, e.g. "train" or "test" (letters, digits, '_').
        sample_ids: N unique ids, or None to number them "<real|syn>-<split>-<index>".
        judge_confidence: (N,) floats in [0, 1] for synthetic rows, None for real rows.
        generator_version: Generator identifier for synthetic rows, None for real rows.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str
    split: str
    sample_ids: list[str] | None = None
    judge_confidence: np.ndarray | None = None
    generator_version: str | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class RowStream:
    """Rows of one source and split that arrive in blocks, so publish never holds them all.

    Attributes:
        source: "real" or "synthetic"; every block must say the same.
        split: The split every block belongs to.
        num_rows: How many rows the blocks add up to (shard names need the count up front).
        blocks: Returns a fresh iterator of :class:`Rows` each call (a publish that must retry
            under the next version number reads the rows again).
    """

    source: str
    split: str
    num_rows: int
    blocks: Callable[[], Iterable[Rows]]


@dataclass(frozen=True)
class CheckedPart:
    images: np.ndarray
    labels: np.ndarray
    source: str
    split: str
    sample_ids: list[str]
    judge_confidence: np.ndarray | None
    generator_version: str | None


def check_class_names(class_names: Sequence[str]) -> list[str]:
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise ValueError(f"class_names must be a sequence of strings, got {class_names!r}")
    names = list(class_names)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"class_names must be non-empty strings, one per class, got {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique, got {names!r}")
    return names


def check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """``image_shape`` as (H, W, C) after checking it is a square of 16-64 px with 1 or 3 channels."""
    shape = tuple(int(side) for side in image_shape)
    if len(shape) != 3 or shape[0] != shape[1] or not MIN_SIDE <= shape[0] <= MAX_SIDE or shape[2] not in CHANNELS:
        raise ValueError(
            f"image_shape must be (S, S, C) with S from {MIN_SIDE} to {MAX_SIDE} and C 1 or 3, got {image_shape!r}"
        )
    return shape


def check_part(index: int, part: Any, num_classes: int, image_shape: tuple[int, int, int]) -> CheckedPart:
    where = f"parts[{index}]"
    if not isinstance(part, Rows):
        raise ValueError(f"{where} must be a gan_core.publish.Rows, got {type(part).__name__}")
    images = check_images(part.images, f"{where}.images", ValueError, side=image_shape[0], channels=image_shape[2])
    count = images.shape[0]
    labels = check_labels(part.labels, count, num_classes, f"{where}.labels", ValueError)
    if part.source not in SOURCES:
        raise ValueError(f"{where}.source must be one of {SOURCES}, got {part.source!r}")
    if not isinstance(part.split, str) or not _SPLIT_PATTERN.match(part.split):
        raise ValueError(
            f"{where}.split {part.split!r} is not allowed: use 1-64 letters, digits or '_' "
            "(it becomes part of the shard file names)"
        )
    if part.source == "real" and (part.judge_confidence is not None or part.generator_version is not None):
        raise ValueError(
            f"{where} is real but has judge_confidence or generator_version; those describe "
            "synthetic rows only, so pass None"
        )
    confidence = part.judge_confidence
    if confidence is not None:
        confidence = np.asarray(confidence)
        if confidence.dtype.kind not in "fiu" or confidence.shape != (count,):
            raise ValueError(
                f"{where}.judge_confidence must be a float array of shape ({count},), got "
                f"{confidence.shape} {confidence.dtype}"
            )
        confidence = confidence.astype(np.float32)
        if count and not (np.all(np.isfinite(confidence)) and confidence.min() >= 0 and confidence.max() <= 1):
            raise ValueError(f"{where}.judge_confidence must be finite and within [0, 1]")
    if part.generator_version is not None and (
        not isinstance(part.generator_version, str) or not part.generator_version
    ):
        raise ValueError(f"{where}.generator_version must be a non-empty string or None")
    sample_ids = part.sample_ids
    if sample_ids is not None:
        sample_ids = list(sample_ids)
        if len(sample_ids) != count:
            raise ValueError(f"{where}.sample_ids has {len(sample_ids)} entries for {count} images")
        if not all(isinstance(sample_id, str) and sample_id and "/" not in sample_id for sample_id in sample_ids):
            raise ValueError(f"{where}.sample_ids must be non-empty strings without '/'")
    return CheckedPart(
        images=images,
        labels=labels,
        source=part.source,
        split=part.split,
        sample_ids=sample_ids,  # filled in by assign_sample_ids
        judge_confidence=confidence,
        generator_version=part.generator_version,
    )


def with_sample_ids(part: CheckedPart, counters: Counter) -> CheckedPart:
    """``part`` with its sample ids filled in: "<real|syn>-<split>-<index>", numbered on from ``counters``."""
    ids = part.sample_ids
    if ids is None:
        prefix = "real" if part.source == "real" else "syn"
        start = counters[(part.source, part.split)]
        ids = [f"{prefix}-{part.split}-{start + i:06d}" for i in range(len(part.labels))]
    counters[(part.source, part.split)] += len(ids)
    return CheckedPart(
        images=part.images,
        labels=part.labels,
        source=part.source,
        split=part.split,
        sample_ids=ids,
        judge_confidence=part.judge_confidence,
        generator_version=part.generator_version,
    )


def assign_sample_ids(parts: list[CheckedPart]) -> list[CheckedPart]:
    counters: Counter = Counter()
    filled = [with_sample_ids(part, counters) for part in parts]
    seen: set[str] = set()
    for part in filled:
        for sample_id in part.sample_ids:
            if sample_id in seen:
                raise ValueError(
                    f"sample_id {sample_id!r} appears more than once; sample ids must be unique across "
                    "all parts (pass None to number them automatically)"
                )
            seen.add(sample_id)
    return filled
