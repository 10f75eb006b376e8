"""Test data writers, independent of the readers they check: IDX files, image folders, HF Parquet.

Each writes the format itself (IDX by struct, images by Pillow, Parquet by pyarrow with the
``huggingface`` schema metadata), so a reader is checked against the format, not against itself.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from gan_core import data
from gan_core.data import LabeledSplits

# --- IDX ---


def _write(path: Path, payload: bytes, compress: bool) -> Path:
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def write_images(
    path: Path,
    images: np.ndarray,
    *,
    compress: bool = False,
    magic: int = 2051,
    count: int | None = None,
    extra: bytes = b"",
    cut: int = 0,
) -> Path:
    count = len(images) if count is None else count
    payload = struct.pack(">iiii", magic, count, images.shape[1], images.shape[2]) + images.tobytes() + extra
    return _write(path, payload[: len(payload) - cut], compress)


def write_labels(
    path: Path, labels: np.ndarray, *, compress: bool = False, magic: int = 2049, extra: bytes = b"", cut: int = 0
) -> Path:
    payload = struct.pack(">ii", magic, len(labels)) + np.asarray(labels, dtype=np.uint8).tobytes() + extra
    return _write(path, payload[: len(payload) - cut], compress)


def random_digits(count: int, seed: int, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, side, side), dtype=np.uint8)
    labels = np.arange(count, dtype=np.int64) % 10
    return images, labels


MNIST_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TEST_STEMS = ("train-images.idx3-ubyte", "train-labels.idx1-ubyte", "test-images.idx3-ubyte", "test-labels.idx1-ubyte")


def write_idx_dir(
    directory: Path, *, compress: bool, names: str = "mnist", side: int = 28
) -> tuple[LabeledSplits, Path]:
    """Four IDX files of random digits (30 train, 12 test); returns (what they hold, directory)."""
    directory.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = random_digits(30, seed=1, side=side)
    test_images, test_labels = random_digits(12, seed=2, side=side)
    suffix = ".gz" if compress else ""
    stems = MNIST_STEMS if names == "mnist" else TEST_STEMS  # the 'test' + '.idx3-ubyte' spelling
    write_images(directory / (stems[0] + suffix), train_images, compress=compress)
    write_labels(directory / (stems[1] + suffix), train_labels, compress=compress)
    write_images(directory / (stems[2] + suffix), test_images, compress=compress)
    write_labels(directory / (stems[3] + suffix), test_labels, compress=compress)
    if not 16 <= side <= 64:  # not valid data as it is: nothing to expect
        return None, directory
    expected = LabeledSplits(train_images, train_labels, test_images, test_labels, data.MNIST_CLASS_NAMES, "expected")
    return expected, directory


# --- image files ---


def image_bytes(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def save(path: Path, image: Image.Image | np.ndarray, format: str | None = None, **options) -> Path:
    """Saves a Pillow image (or a uint8 array: (H, W) gray, (H, W, 3) RGB) under ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)
    image.save(path, format=format, **options)
    return path


def random_image(rng: np.random.Generator, side: int, channels: int) -> np.ndarray:
    return rng.integers(0, 256, (side, side, channels), dtype=np.uint8)


def class_folder(
    root: Path, per_class: dict[str, int], *, side: int, channels: int, seed: int = 0, suffix: str = ".png"
) -> dict[str, list[np.ndarray]]:
    """Writes ``root/<class>/<i><suffix>`` random images; returns the pixels per class, in file order."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[np.ndarray]] = {}
    for name, count in per_class.items():
        written[name] = []
        for index in range(count):
            pixels = random_image(rng, side, channels)
            save(root / name / f"{index:03d}{suffix}", pixels)
            written[name].append(pixels)
    return written


# --- Hugging Face Parquet ---


def hf_schema_metadata(class_names) -> dict:
    features = {"image": {"_type": "Image"}, "label": {"names": list(class_names), "_type": "ClassLabel"}}
    return {b"huggingface": json.dumps({"info": {"features": features}}).encode()}


def write_hf_parquet(
    path: Path, images: list[bytes | None], labels, class_names=None, *, paths=None, extra: dict | None = None
) -> Path:
    """One Parquet file as ``datasets`` writes it: image struct<bytes, path>, int64 label, HF metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    image_type = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])
    paths = paths or [None] * len(images)
    columns = {
        "image": pa.StructArray.from_arrays(
            [pa.array(images, pa.binary()), pa.array(paths, pa.string())], fields=list(image_type)
        ),
        "label": pa.array(labels, pa.int64()),
        **{name: pa.array(values) for name, values in (extra or {}).items()},
    }
    table = pa.table(columns)
    if class_names is not None:
        table = table.replace_schema_metadata(hf_schema_metadata(class_names))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def refuse_listing(monkeypatch, suffix: str) -> None:
    """Makes ``os.scandir`` of a folder ending in ``suffix`` fail as unreadable.

    Tests run as root, which reads anything, so ``chmod`` cannot show an unreadable folder.
    """
    import os

    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith(suffix):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
