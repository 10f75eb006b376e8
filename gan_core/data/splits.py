"""The validated in-memory form of real data that every ingest route ends in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIDE = 28
MNIST_CLASS_NAMES: tuple[str, ...] = tuple(str(digit) for digit in range(10))


class DataError(ValueError):
    """Real data is missing, malformed or unsupported; the message says which file and the fix."""


@dataclass(frozen=True, eq=False)
class LabeledSplits:
    """Validated real train/test images with integer labels indexing ``class_names``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source_used: str

    def __post_init__(self) -> None:
        if not isinstance(self.class_names, tuple) or not self.class_names:
            raise DataError(f"class_names must be a non-empty tuple of str, got {self.class_names!r}")
        if not all(isinstance(name, str) for name in self.class_names):
            raise DataError(f"class_names must all be str, got {self.class_names!r}")
        if not isinstance(self.source_used, str) or not self.source_used:
            raise DataError("source_used must be a non-empty string such as 'tfds:mnist'")
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 3 or (
                images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE)
            ):
                raise DataError(
                    f"{split}_images must be a uint8 array of shape (N, 28, 28), got "
                    f"{getattr(images, 'shape', None)} {getattr(images, 'dtype', type(images).__name__)}"
                )
            if not isinstance(labels, np.ndarray) or labels.dtype != np.int64 or labels.ndim != 1:
                raise DataError(
                    f"{split}_labels must be an int64 array of shape (N,), got "
                    f"{getattr(labels, 'shape', None)} {getattr(labels, 'dtype', type(labels).__name__)}"
                )
            if len(images) != len(labels):
                raise DataError(f"{split} has {len(images)} images but {len(labels)} labels: they must pair up")
            if len(images) == 0:
                raise DataError(f"{split} split is empty: at least one labeled image is needed")
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= len(self.class_names):
                raise DataError(
                    f"{split}_labels range {low}..{high} is outside 0..{len(self.class_names) - 1} "
                    f"for {len(self.class_names)} class names"
                )

    def class_counts(self, split: str) -> np.ndarray:
        """Returns the number of images per class (indexed like ``class_names``) in 'train' or 'test'."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return np.bincount(getattr(self, f"{split}_labels"), minlength=len(self.class_names))
