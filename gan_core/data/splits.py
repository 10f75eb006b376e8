"""The validated in-memory form of real data that every ingest route ends in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gan_core.imaging import check_images, check_labels

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
            images = check_images(getattr(self, f"{split}_images"), f"{split}_images", DataError, side=IMAGE_SIDE)
            labels = check_labels(
                getattr(self, f"{split}_labels"), len(images), len(self.class_names), f"{split}_labels", DataError
            )
            if len(images) == 0:
                raise DataError(f"{split} split is empty: at least one labeled image is needed")
            # Frozen: store the checked forms (channel axis dropped, int64 labels) the way __init__ would.
            object.__setattr__(self, f"{split}_images", images)
            object.__setattr__(self, f"{split}_labels", labels)

    def class_counts(self, split: str) -> np.ndarray:
        """Returns the number of images per class (indexed like ``class_names``) in 'train' or 'test'."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return np.bincount(getattr(self, f"{split}_labels"), minlength=len(self.class_names))
