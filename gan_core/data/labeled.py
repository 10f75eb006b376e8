"""Labeled images listed before decoding (files or encoded bytes): arranged train-then-test, decoded once.

The shared last step of the ``folder:`` and ``tfds:`` routes: the train/test arrangement is known
from the labels alone, so the images are decoded straight into their final rows of one array and
the two splits are views of it (no copy, no ``np.stack``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from gan_core.config import DataConfig
from gan_core.data.images import ImageItem, ImagePool, decode_images
from gan_core.data.splits import LabeledSplits
from gan_core.data.subset import arrange_splits


def decode_labeled(
    items: Sequence[ImageItem],
    names: Sequence[str],
    labels: np.ndarray,
    test_mask: np.ndarray | None,
    config: DataConfig,
    *,
    class_names: tuple[str, ...],
    source_used: str,
    test_split: str = "test",
    pool: ImagePool | None = None,
) -> LabeledSplits:
    """Decodes labeled images into :class:`LabeledSplits` by ``config``'s geometry and split rules.

    Args:
        items: File paths or encoded bytes, one per label.
        names: How errors name each item.
        labels: Class indices into ``class_names``.
        test_mask: True for the data's own test rows; None draws a seeded stratified test split
            (``config.test_fraction``, ``config.seed``).
        config: ``image_size``, ``channels``, ``test_fraction`` and ``seed``.
        class_names: The class names.
        source_used: What the splits record as their source.
        test_split: Name of the data's own test split, for the record.
        pool: Decoding workers; None makes them for this call.

    Raises:
        DataError: from the split or from decoding, naming the file and the fix.
    """
    labels = np.asarray(labels, dtype=np.int64)
    arrangement = arrange_splits(labels, test_mask, config.test_fraction, config.seed, test_split)
    order = arrangement.order.tolist()
    images = decode_images(
        [items[index] for index in order],
        [names[index] for index in order],
        config.image_size,
        config.channels,
        pool=pool,
    )
    return arrangement.splits(images, labels, class_names, source_used)
