"""tensorflow-datasets adapter: any image-classification builder (an Image and a ClassLabel feature).

Images of any size and channel count, fixed or variable, are read as their encoded bytes
(``tfds.decode.SkipDecoding``) and decoded and converted by :mod:`gan_core.data.images`, like every
other route. A builder without a ``test`` split gets a seeded stratified one drawn from ``train``.
tensorflow_datasets (and through it TensorFlow) is imported lazily, inside the functions, so
importing this module stays cheap for flows and the CLI.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gan_core.config import DataConfig
from gan_core.data.images import ImagePool
from gan_core.data.labeled import decode_labeled
from gan_core.data.splits import DataError, LabeledSplits, check_class_count

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules


_TFDS_BATCH = 10_000  # batch_size=-1 asks tfds for one batch of the split's size, unknown under mocks


def tfds_builder(name: str, data_dir: Path | None):
    import tensorflow_datasets as tfds  # lazy: keeps TF out of module import

    try:
        return tfds.builder(name, data_dir=None if data_dir is None else str(data_dir))
    except tfds.core.registered.DatasetNotFoundError as error:
        raise DataError(f"tfds has no builder named {name!r}; use e.g. 'tfds:mnist' or 'tfds:fashion_mnist'") from error


def supported_keys(builder, name: str) -> tuple[str, str]:
    """Returns (image key, label key) if the builder is image classification: an Image and a ClassLabel.

    Raises:
        DataError: the builder has no single Image plus ClassLabel pair.
    """
    import tensorflow_datasets as tfds

    features = builder.info.features
    keys = builder.info.supervised_keys
    if isinstance(keys, tuple) and len(keys) == 2 and all(isinstance(key, str) for key in keys):
        image_key, label_key = keys
    else:
        images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
        labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
        image_key = images[0] if len(images) == 1 else None
        label_key = labels[0] if len(labels) == 1 else None
    image = features[image_key] if image_key in features else None
    label = features[label_key] if label_key in features else None
    if not isinstance(image, tfds.features.Image) or not isinstance(label, tfds.features.ClassLabel):
        raise DataError(
            f"tfds builder {name!r} has features {list(features.keys())}; only image-classification builders "
            "(one Image feature plus one ClassLabel, like 'mnist', 'cifar10' or 'tf_flowers') are supported"
        )
    return image_key, label_key


def is_tfds_prepared(name: str, data_dir: Path | None) -> bool:
    """Tells whether tfds builder ``name`` is already prepared in ``data_dir`` (no network).

    Raises:
        DataError: tfds knows no builder of that name.
    """
    return bool(tfds_builder(name, data_dir).is_prepared())


def load_tfds(
    name: str,
    data_dir: Path | None = None,
    download: bool = False,
    config: DataConfig | None = None,
    pool: ImagePool | None = None,
) -> LabeledSplits:
    """Reads the train and test splits of a tfds image-classification builder.

    Args:
        name: tfds builder name, e.g. 'mnist' or 'cifar10' (a ':version' suffix is allowed).
        data_dir: tfds data_dir; None uses tfds' default.
        download: Download and prepare the dataset if it is not prepared yet (needs network).
        config: ``image_size``, ``channels``, ``test_fraction`` and ``seed``; None keeps the data's
            own geometry and draws a missing test split with the defaults.
        pool: Decoding workers; None makes them for this call.

    Raises:
        DataError: unknown or unsupported builder, not prepared and ``download`` is False, the
            download failed, the builder lacks a train split, or an image is unusable.
    """
    import tensorflow_datasets as tfds

    config = config or DataConfig()
    builder = tfds_builder(name, data_dir)
    image_key, label_key = supported_keys(builder, name)
    if not builder.is_prepared():
        if not download:
            raise DataError(
                f"tfds dataset {name!r} is not prepared in {builder.data_dir_root}; allow the "
                "download (needs network), run `tfds build` there, or use source='sample' or 'idx:<dir>'"
            )
        logger.info("downloading and preparing tfds %r into %s", name, builder.data_dir_root)
        try:
            builder.download_and_prepare()
        except Exception as error:  # tfds raises many unrelated types; all mean "no dataset"
            raise DataError(
                f"downloading tfds dataset {name!r} into {builder.data_dir_root} failed: "
                f"{type(error).__name__}: {error}; check network access, or use source='sample' or 'idx:<dir>'"
            ) from error
    known_splits = set(builder.info.splits.keys())
    # A freshly mocked or partially described builder reports no splits; only judge real lists.
    if known_splits and "train" not in known_splits:
        raise DataError(f"tfds dataset {name!r} has splits {sorted(known_splits)}; a 'train' split is needed")
    has_test = not known_splits or "test" in known_splits
    items, labels, in_test = [], [], []
    for split in ("train", "test") if has_test else ("train",):
        dataset = builder.as_dataset(
            split=split,
            batch_size=_TFDS_BATCH,
            shuffle_files=False,
            decoders={image_key: tfds.decode.SkipDecoding()},  # encoded bytes: decoded by gan_core.data.images
        )
        count = len(items)
        for batch in tfds.as_numpy(dataset):
            items += list(batch[image_key])
            labels.append(np.asarray(batch[label_key], dtype=np.int64))
        if len(items) == count:
            raise DataError(f"tfds dataset {name!r} split {split!r} is empty; prepare it again")
        in_test += [split == "test"] * (len(items) - count)
    class_names = tuple(builder.info.features[label_key].names)
    check_class_count(class_names, f"tfds dataset {name!r}")
    return decode_labeled(
        items,
        [f"tfds:{name} image {index}" for index in range(len(items))],
        np.concatenate(labels),
        np.asarray(in_test) if has_test else None,
        config,
        class_names=class_names,
        source_used=f"tfds:{name}",
        pool=pool,
    )
