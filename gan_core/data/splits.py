"""The validated in-memory form of real data that every ingest route ends in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gan_core.imaging import MAX_SIDE, MIN_SIDE, check_images, check_labels

# MNIST's side, the bundled sample's and the IDX files'.
IMAGE_SIDE = 28
MNIST_CLASS_NAMES: tuple[str, ...] = tuple(str(digit) for digit in range(10))


class DataError(ValueError):
    """Real data is missing, malformed or unsupported; the message says which file and the fix."""


@dataclass(frozen=True, eq=False)
class LabeledSplits:
    """Validated real train/test images, uint8 (N, H, W, C), with integer labels indexing ``class_names``.

    Both splits share one square geometry: a side from 16 to 64 and 1 or 3 channels.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source_used: str
    # How train and test were told apart (see gan_core.data.subset.given_split / seeded_split); it
    # reaches the snapshot's meta.json. None: the caller did not say (recorded as given).
    split: dict | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.class_names, tuple) or not self.class_names:
            raise DataError(f"class_names must be a non-empty tuple of str, got {self.class_names!r}")
        if not all(isinstance(name, str) for name in self.class_names):
            raise DataError(f"class_names must all be str, got {self.class_names!r}")
        if not isinstance(self.source_used, str) or not self.source_used:
            raise DataError("source_used must be a non-empty string such as 'tfds:mnist'")
        for split in ("train", "test"):
            images = check_images(getattr(self, f"{split}_images"), f"{split}_images", DataError)
            labels = check_labels(
                getattr(self, f"{split}_labels"), len(images), len(self.class_names), f"{split}_labels", DataError
            )
            if len(images) == 0:
                raise DataError(f"{split} split is empty: at least one labeled image is needed")
            # Frozen: store the checked forms (channel axis added, int64 labels) the way __init__ would.
            object.__setattr__(self, f"{split}_images", images)
            object.__setattr__(self, f"{split}_labels", labels)
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise DataError(
                f"train images are {self.train_images.shape[1:]} but test images are {self.test_images.shape[1:]}: "
                "both splits must share one size and channel count"
            )
        height, width = self.train_images.shape[1:3]
        if height != width or not MIN_SIDE <= height <= MAX_SIDE:
            raise DataError(
                f"images are {height}x{width}: square sides from {MIN_SIDE} to {MAX_SIDE} are supported; "
                "resize them (image_size)"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of every image."""
        return tuple(int(side) for side in self.train_images.shape[1:])

    def class_counts(self, split: str) -> np.ndarray:
        """Returns the number of images per class (indexed like ``class_names``) in 'train' or 'test'."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return np.bincount(getattr(self, f"{split}_labels"), minlength=len(self.class_names))


def check_class_count(class_names: tuple[str, ...], where: str) -> None:
    """Refuses data with fewer than two classes or repeated class names.

    Raises:
        DataError: naming ``where`` the classes came from and the fix.
    """
    if len(class_names) < 2:
        found = f"one class ({class_names[0]!r})" if class_names else "no class"
        raise DataError(
            f"{where}: found {found}; a class-conditional GAN needs at least 2 classes: add one folder "
            "(or label) per class"
        )
    repeated = sorted({name for name in class_names if class_names.count(name) > 1})
    if repeated:
        raise DataError(f"{where}: class names {repeated} appear more than once; give every class its own name")
