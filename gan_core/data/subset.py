"""Row selections: the stratified subset behind ``real_labeled_limit``, the label-blind split of the
label-scarce mode, and the seeded stratified test holdout for data without a test split of its own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gan_core.data.splits import DataError, LabeledSplits


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


def stratified_subset(images: np.ndarray, labels: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
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


def given_split(test_split: str | None = "test") -> dict:
    """Split info for data that came with its own test split (``test_split`` names it)."""
    return {"method": "given", "test_split": test_split, "test_fraction": None, "seed": None}


def seeded_split(test_fraction: float, seed: int) -> dict:
    """Split info for a test split drawn by :func:`stratified_holdout`."""
    return {"method": "seeded-stratified", "test_split": None, "test_fraction": float(test_fraction), "seed": int(seed)}


def stratified_holdout(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits row indices into (train, test) with ``test_fraction`` of every class held out.

    Each class of ``n`` rows gives ``round(n * test_fraction)`` rows to test, at least 1 when
    ``n >= 2`` and never all of them, so every class keeps a training image. The rows are drawn
    by a generator seeded with ``seed``, class by class in label order.

    Returns:
        (train indices, test indices), each sorted ascending.

    Raises:
        DataError: no class has 2 rows, so nothing could be held out.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        take = min(max(int(round(len(rows) * test_fraction)), 1), len(rows) - 1)
        test.append(rng.permutation(rows)[:take])
    test_rows = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    if len(test_rows) == 0:
        raise DataError(
            "every class has a single image, so none can be held out for the test split; "
            "add images (at least 2 per class) or give a test split of your own"
        )
    return np.setdiff1d(np.arange(len(labels)), test_rows, assume_unique=True), test_rows


@dataclass(frozen=True)
class Arrangement:
    """Where each source row goes: train rows first, then test rows, and how they were told apart."""

    order: np.ndarray  # order[i] is the source row of output row i
    train_count: int
    split: dict

    @property
    def destination(self) -> np.ndarray:
        """The output row of each source row (the inverse of ``order``)."""
        inverse = np.empty_like(self.order)
        inverse[self.order] = np.arange(len(self.order))
        return inverse

    def splits(self, images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], source_used: str):
        """A :class:`LabeledSplits` of ``images`` (already in output order) and ``labels`` (in source order).

        The two splits are views of ``images``: nothing is copied.
        """
        ordered = np.asarray(labels, dtype=np.int64)[self.order]
        cut = self.train_count
        return LabeledSplits(
            train_images=images[:cut],
            train_labels=ordered[:cut],
            test_images=images[cut:],
            test_labels=ordered[cut:],
            class_names=class_names,
            source_used=source_used,
            split=self.split,
        )


def arrange_splits(
    labels: np.ndarray, test_mask: np.ndarray | None, test_fraction: float, seed: int, test_split: str = "test"
) -> Arrangement:
    """Orders rows train-then-test: by ``test_mask`` (a given split), or a seeded stratified holdout.

    Args:
        labels: One label per source row.
        test_mask: True for rows of the data's own test split; None draws one (:func:`stratified_holdout`).
        test_fraction: Share of each class held out when ``test_mask`` is None.
        seed: Seed of that draw.
        test_split: Name of the data's own test split, for the record.
    """
    if test_mask is None:
        train, test = stratified_holdout(labels, test_fraction, seed)
        split = seeded_split(test_fraction, seed)
    else:
        train, test = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
        split = given_split(test_split)
    return Arrangement(order=np.concatenate([train, test]), train_count=len(train), split=split)
