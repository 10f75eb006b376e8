"""MNIST-format IDX files (``.gz`` or raw): magic numbers, dimensions, counts and label range validated.

Images of any height and width are read; :func:`read_idx_dir` then applies the geometry rules of
:mod:`gan_core.data.images` (a size of 16-64 px kept as it is, or ``image_size`` / ``channels``).
"""

from __future__ import annotations

import gzip
import logging
import struct
import zlib
from pathlib import Path

import numpy as np

from gan_core.data.images import conform_arrays
from gan_core.data.splits import MNIST_CLASS_NAMES, DataError, LabeledSplits
from gan_core.data.subset import given_split

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules


_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_IMAGES_HEADER = struct.Struct(">iiii")  # magic, count, rows, cols
_LABELS_HEADER = struct.Struct(">ii")  # magic, count


# Per role, accepted file names in order of preference: the original MNIST names first, then the
# common "test" and ".idx3-ubyte" variants, each gzip-compressed or raw.
_IDX_ROLES: dict[str, tuple[str, ...]] = {
    "train images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test images": (
        "t10k-images-idx3-ubyte",
        "t10k-images.idx3-ubyte",
        "test-images-idx3-ubyte",
        "test-images.idx3-ubyte",
    ),
    "test labels": (
        "t10k-labels-idx1-ubyte",
        "t10k-labels.idx1-ubyte",
        "test-labels-idx1-ubyte",
        "test-labels.idx1-ubyte",
    ),
}


def _read_idx_bytes(path: Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; point the source at a directory with the MNIST IDX files")
    with open(path, "rb") as handle:
        head = handle.read(2)
    # Decide by content, not by suffix, so a gunzipped file that kept its '.gz' name still reads.
    if head == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read()
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: gzip data is corrupt or truncated ({error}); re-download the file") from error
    return path.read_bytes()


def _check_length(path: Path, data: bytes, header_size: int, count: int, record: int, what: str) -> None:
    expected = header_size + count * record
    if len(data) < expected:
        raise DataError(
            f"{path}: truncated: the header announces {count} {what} ({expected} bytes) but the file "
            f"holds {len(data)} bytes; re-download the file"
        )
    if len(data) > expected:
        raise DataError(
            f"{path}: {len(data) - expected} trailing bytes after the {count} {what} the header "
            f"announces; the file is not a clean IDX file, re-download it"
        )


def _read_header(path: Path, header: struct.Struct, magic: int, kind: str, original: str) -> tuple[bytes, tuple]:
    """Reads an IDX file and checks its header's size, magic number and count.

    Returns:
        (the file's bytes, the header's fields after the magic number).
    """
    data = _read_idx_bytes(path)
    if len(data) < header.size:
        raise DataError(
            f"{path}: {len(data)} bytes is too short for an IDX {kind} header ({header.size} bytes); re-download the file"
        )
    found, count, *dims = header.unpack_from(data)
    if found != magic:
        other = {_IMAGES_MAGIC: "images", _LABELS_MAGIC: "labels"}.get(found)
        hint = f" (that is the {other} magic: did you swap the images and labels files?)" if other else ""
        raise DataError(
            f"{path}: bad magic number {found}, expected {magic} for an IDX {kind} file{hint}; "
            f"use the original MNIST {original!r} file"
        )
    if count < 0:
        raise DataError(f"{path}: negative {kind} count {count} in the header; re-download the file")
    return data, (count, *dims)


def read_idx_images(path: Path) -> np.ndarray:
    """Reads an MNIST-format IDX image file (gzip or raw) into an (N, rows, cols, 1) uint8 array.

    Any size is read; whether it is usable is the geometry rules' call (:func:`read_idx_dir`).

    Raises:
        DataError: the file is missing, is not an IDX image file, has an empty dimension, or its
            length does not match the header's count.
    """
    path = Path(path)
    data, (count, rows, cols) = _read_header(path, _IMAGES_HEADER, _IMAGES_MAGIC, "image", "*-images-idx3-ubyte")
    if rows < 1 or cols < 1:
        raise DataError(f"{path}: the header says images are {rows}x{cols}; re-download the file")
    _check_length(path, data, _IMAGES_HEADER.size, count, rows * cols, "images")
    images = np.frombuffer(data, dtype=np.uint8, offset=_IMAGES_HEADER.size)
    return images.reshape(count, rows, cols, 1).copy()


def read_idx_labels(path: Path, num_classes: int = 10) -> np.ndarray:
    """Reads an MNIST IDX label file (gzip or raw) into an (N,) int64 array of labels 0..9.

    Raises:
        DataError: the file is missing, is not an IDX label file, its length does not match the
            header's count, or a label is outside 0..num_classes-1.
    """
    path = Path(path)
    data, (count,) = _read_header(path, _LABELS_HEADER, _LABELS_MAGIC, "label", "*-labels-idx1-ubyte")
    _check_length(path, data, _LABELS_HEADER.size, count, 1, "labels")
    labels = np.frombuffer(data, dtype=np.uint8, offset=_LABELS_HEADER.size).astype(np.int64)
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        raise DataError(
            f"{path}: {bad.size} labels are outside 0..{num_classes - 1} (first: label {labels[bad[0]]} "
            f"at index {bad[0]}); this is not an MNIST label file, use one with digit labels 0-9"
        )
    return labels


def _find_idx_file(directory: Path, role: str) -> Path | None:
    for stem in _IDX_ROLES[role]:
        for name in (f"{stem}.gz", stem):
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def read_idx_dir(directory: Path, image_size: int | None = None, channels: int | None = None) -> LabeledSplits:
    """Reads the four MNIST IDX files (train/t10k images and labels, gzip or raw) from a directory.

    Args:
        directory: Where the files are.
        image_size: Crop and resize the images to this side; None keeps theirs (16-64 px, square).
        channels: 1 or 3; None keeps 1.

    Raises:
        DataError: the directory or a file is missing, a file is malformed, image and label
            counts differ, or the images break the geometry rules (naming the file).
    """
    directory = Path(directory).expanduser().resolve()
    if not directory.is_dir():
        raise DataError(
            f"IDX directory {directory} does not exist or is not a directory; pass source="
            "'idx:<directory holding the four MNIST IDX files>'"
        )
    found = {role: _find_idx_file(directory, role) for role in _IDX_ROLES}
    missing = [role for role, path in found.items() if path is None]
    if missing:
        expected = "; ".join(
            f"{role}: one of {', '.join(stem + '[.gz]' for stem in _IDX_ROLES[role])}" for role in missing
        )
        present = sorted(p.name for p in directory.iterdir())[:20]
        raise DataError(
            f"IDX directory {directory} lacks the {', '.join(missing)} file(s). Expected {expected}. "
            f"Found: {present or 'nothing'}. Put the original MNIST files there (names as in "
            "http://yann.lecun.com/exdb/mnist/)"
        )
    arrays = {}
    for split in ("train", "test"):
        images_path, labels_path = found[f"{split} images"], found[f"{split} labels"]
        images = read_idx_images(images_path)
        labels = read_idx_labels(labels_path)
        if len(images) != len(labels):
            raise DataError(
                f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
                "labels; the files do not belong together, use a matching images/labels pair"
            )
        arrays[split] = (images, labels)
    logger.debug("read IDX files %s", {role: str(path) for role, path in found.items()})
    train_images, test_images = conform_arrays(
        [(arrays["train"][0], str(found["train images"])), (arrays["test"][0], str(found["test images"]))],
        image_size,
        channels,
    )
    return LabeledSplits(
        train_images=train_images,
        train_labels=arrays["train"][1],
        test_images=test_images,
        test_labels=arrays["test"][1],
        class_names=MNIST_CLASS_NAMES,
        source_used=f"idx:{directory}",
        split=given_split("test"),
    )
