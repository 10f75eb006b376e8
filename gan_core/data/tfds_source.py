"""tensorflow-datasets adapter: any 28x28 grayscale classification builder.

tensorflow_datasets (and through it TensorFlow) is imported lazily, inside the functions, so
importing this module stays cheap for flows and the CLI.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gan_core.data.splits import IMAGE_SIDE, DataError, LabeledSplits

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules


_TFDS_BATCH = 10_000  # batch_size=-1 asks tfds for one batch of the split's size, unknown under mocks


def tfds_builder(name: str, data_dir: Path | None):
    import tensorflow_datasets as tfds  # lazy: keeps TF out of module import

    try:
        return tfds.builder(name, data_dir=None if data_dir is None else str(data_dir))
    except tfds.core.registered.DatasetNotFoundError as error:
        raise DataError(
            f"tfds has no builder named {name!r}; use e.g. 'tfds:mnist' or 'tfds:fashion_mnist'"
        ) from error


def supported_keys(builder, name: str) -> tuple[str, str]:
    """Returns (image key, label key) if the builder is 28x28x1 uint8 image classification."""
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
    ok = (
        isinstance(image, tfds.features.Image)
        and tuple(image.shape) == (IMAGE_SIDE, IMAGE_SIDE, 1)
        and image.np_dtype == np.uint8
        and isinstance(label, tfds.features.ClassLabel)
    )
    if not ok:
        raise DataError(
            f"tfds builder {name!r} has features {features!r}; only 28x28 grayscale classification "
            "builders (a 28x28x1 uint8 Image plus a ClassLabel, like 'mnist', 'fashion_mnist' or "
            "'kmnist') are supported"
        )
    return image_key, label_key


def is_tfds_prepared(name: str, data_dir: Path | None) -> bool:
    """Tells whether tfds builder ``name`` is already prepared in ``data_dir`` (no network).

    Raises:
        DataError: tfds knows no builder of that name.
    """
    return bool(tfds_builder(name, data_dir).is_prepared())


def load_tfds(name: str, data_dir: Path | None = None, download: bool = False) -> LabeledSplits:
    """Reads the train and test splits of a 28x28 grayscale tfds classification builder.

    Args:
        name: tfds builder name, e.g. 'mnist' or 'fashion_mnist' (a ':version' suffix is allowed).
        data_dir: tfds data_dir; None uses tfds' default.
        download: Download and prepare the dataset if it is not prepared yet (needs network).

    Raises:
        DataError: unknown or unsupported builder, not prepared and ``download`` is False, the
            download failed, or the builder lacks a train or test split.
    """
    import tensorflow_datasets as tfds

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
    if known_splits and not {"train", "test"} <= known_splits:
        raise DataError(
            f"tfds dataset {name!r} has splits {sorted(known_splits)}; both 'train' and 'test' are needed"
        )
    arrays = {}
    for split in ("train", "test"):
        dataset = builder.as_dataset(split=split, batch_size=_TFDS_BATCH, shuffle_files=False)
        images, labels = [], []
        for batch in tfds.as_numpy(dataset):
            images.append(batch[image_key][..., 0])
            labels.append(batch[label_key])
        if not images:
            raise DataError(f"tfds dataset {name!r} split {split!r} is empty; prepare it again")
        arrays[split] = (
            np.ascontiguousarray(np.concatenate(images), dtype=np.uint8),
            np.concatenate(labels).astype(np.int64),
        )
    return LabeledSplits(
        train_images=arrays["train"][0],
        train_labels=arrays["train"][1],
        test_images=arrays["test"][0],
        test_labels=arrays["test"][1],
        class_names=tuple(builder.info.features[label_key].names),
        source_used=f"tfds:{name}",
    )
