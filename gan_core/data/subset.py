"""The stratified subset behind ``real_labeled_limit``: the limited-data scenario."""

from __future__ import annotations

import numpy as np

from gan_core.data.splits import DataError


def _largest_remainder(counts: np.ndarray, limit: int) -> np.ndarray:
    """Splits ``limit`` over classes proportionally to ``counts``, at least 1 per present class."""
    quotas = counts * (limit / counts.sum())
    allocation = np.floor(quotas).astype(np.int64)
    remainders = quotas - allocation
    # Stable sort on -remainder: ties go to the lower class index, so the split is deterministic.
    for index in np.argsort(-remainders, kind="stable")[: limit - int(allocation.sum())]:
        allocation[index] += 1
    present = counts > 0
    for index in np.flatnonzero(present & (allocation == 0)):
        # Take the seat from the class most over its quota that can spare one.
        surplus = np.where(allocation > 1, allocation - quotas, -np.inf)
        donor = int(np.argmax(surplus))
        allocation[donor] -= 1
        allocation[index] = 1
    return allocation


def stratified_subset(
    images: np.ndarray, labels: np.ndarray, limit: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Picks exactly ``limit`` rows with per-class counts proportional to the input's.

    Counts use the largest-remainder method with at least one row per class present; the rows of
    each class are drawn without replacement by a generator seeded with ``seed`` and returned in
    their original order. ``limit >= len(labels)`` returns the inputs unchanged.

    Raises:
        DataError: ``limit`` is below 1 or below the number of classes present, or the arrays
            do not pair up.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels: they must pair up")
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise DataError(f"limit must be a positive integer, got {limit!r}")
    if limit >= len(labels):
        return images, labels
    classes, counts = np.unique(labels, return_counts=True)
    if limit < len(classes):
        raise DataError(
            f"limit {limit} is smaller than the {len(classes)} classes present, so some class would "
            f"get no image; raise real_labeled_limit to at least {len(classes)}"
        )
    allocation = _largest_remainder(counts, int(limit))
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == cls), size=int(take), replace=False)
        for cls, take in zip(classes, allocation)
    ]
    index = np.sort(np.concatenate(chosen))
    return images[index], labels[index]


def label_blind_split(count: int, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits row indices ``0..count-1`` into ``limit`` labeled rows and the rest, reading no label.

    The label-scarce mode's rule: which images are labeled is a seeded draw over row positions
    alone, so the labels of the rest (the unlabeled pool) are never read and cannot influence
    anything. A stratified draw would need every image's label to find the images of each class,
    which is exactly what the pool must not leak. Class counts of the labeled rows are therefore
    only proportional in expectation.

    Returns:
        (labeled indices, pool indices), each sorted ascending; ``limit >= count`` labels every row.

    Raises:
        DataError: ``limit`` is not a positive integer.
    """
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise DataError(f"limit must be a positive integer, got {limit!r}")
    if limit >= count:
        return np.arange(count), np.zeros(0, dtype=np.int64)
    chosen = np.random.default_rng(seed).permutation(count)[:limit]
    labeled = np.sort(chosen)
    pool = np.setdiff1d(np.arange(count), labeled, assume_unique=True)
    return labeled, pool
