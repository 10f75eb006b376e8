"""Unlabeled image sources for the label-scarce pool: an IDX images file or a directory of PNGs.

``unlabeled_source`` is ``'idx-images:<file>'`` (an MNIST-style IDX images file, gzip or raw, with
no labels file) or ``'png-dir:<directory>'`` (every ``*.png`` in it, not recursive, each 28x28
8-bit grayscale). :func:`check_unlabeled_source` is the cheap pre-flight a flow runs before any
work (paths, emptiness, each PNG's header); :func:`read_unlabeled_source` decodes everything.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gan_core.data.idx import read_idx_images
from gan_core.data.splits import IMAGE_SIDE, DataError

logger = logging.getLogger(__package__)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Signature, then the IHDR chunk: length, type, width, height, bit depth, colour type.
_IHDR = struct.Struct(">8sI4sIIBB")
_PNG_COLOUR_TYPES = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}
_PNG_FIX = "convert it to a 28x28 8-bit grayscale PNG (e.g. PIL: Image.open(path).convert('L').resize((28, 28)))"


def parse_unlabeled_source(spec: str) -> tuple[str, Path]:
    """Splits ``'idx-images:<path>'`` or ``'png-dir:<path>'`` into (kind, absolute path).

    Raises:
        DataError: any other form.
    """
    kind, separator, raw = str(spec).partition(":")
    if not separator or kind not in ("idx-images", "png-dir") or not raw.strip():
        raise DataError(
            f"unknown unlabeled_source {spec!r}: use 'idx-images:<IDX images file>' or "
            "'png-dir:<directory of 28x28 grayscale PNGs>'"
        )
    return kind, Path(raw).expanduser().resolve()


def _png_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise DataError(
            f"unlabeled_source directory {directory} does not exist or is not a directory; "
            "pass 'png-dir:<existing directory of PNG files>'"
        )
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() == ".png")
    if not files:
        raise DataError(
            f"unlabeled_source directory {directory} holds no .png files; put 28x28 grayscale PNGs there "
            "or point png-dir at the directory that has them"
        )
    return files


def _check_png_header(path: Path) -> None:
    with open(path, "rb") as handle:
        head = handle.read(_IHDR.size)
    if len(head) < _IHDR.size or not head.startswith(_PNG_SIGNATURE):
        raise DataError(f"{path}: not a PNG file (bad signature or truncated header); {_PNG_FIX}, or remove it")
    _, _, chunk, width, height, depth, colour = _IHDR.unpack(head)
    if chunk != b"IHDR":
        raise DataError(f"{path}: corrupt PNG (no IHDR chunk first); {_PNG_FIX}, or remove it")
    if (width, height) != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{path}: image is {width}x{height}, only 28x28 is supported; {_PNG_FIX}")
    if colour != 0 or depth != 8:
        mode = f"{depth}-bit {_PNG_COLOUR_TYPES.get(colour, f'colour type {colour}')}"
        raise DataError(f"{path}: image is {mode}, only 8-bit grayscale is supported; {_PNG_FIX}")


def _decode_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()  # decodes now, so a truncated or corrupt stream fails here, naming the file
            if image.mode != "L" or image.size != (IMAGE_SIDE, IMAGE_SIDE):
                raise DataError(
                    f"{path}: image is {image.size[0]}x{image.size[1]} mode {image.mode!r}, only 28x28 "
                    f"8-bit grayscale ('L') is supported; {_PNG_FIX}"
                )
            return np.asarray(image, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: corrupt PNG ({error}); re-export it, {_PNG_FIX}, or remove it") from error


def _idx_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            f"unlabeled_source file {path} does not exist or is not a file; pass "
            "'idx-images:<an MNIST-style IDX images file, .gz or raw>'"
        )
    return path


def check_unlabeled_source(spec: str) -> None:
    """The cheap pre-flight: the path exists, is not empty, and every PNG header is 28x28 grayscale.

    An IDX file is read whole (it is a single fast read); PNG pixel data is only decoded at ingest.

    Raises:
        DataError: naming the file or directory and the fix.
    """
    kind, path = parse_unlabeled_source(spec)
    if kind == "idx-images":
        _read_idx_pool(_idx_file(path))
        return
    for file in _png_files(path):
        _check_png_header(file)


def _read_idx_pool(path: Path) -> np.ndarray:
    images = read_idx_images(path)
    if len(images) == 0:
        raise DataError(f"{path}: the IDX images file holds no images; use one with at least one image")
    return images


def read_unlabeled_source(spec: str) -> np.ndarray:
    """Reads every image of an unlabeled source into an (N, 28, 28) uint8 array.

    Raises:
        DataError: a path is missing, a directory is empty, or a file is corrupt or not 28x28 grayscale.
    """
    kind, path = parse_unlabeled_source(spec)
    if kind == "idx-images":
        images = _read_idx_pool(_idx_file(path))
    else:
        files = _png_files(path)
        for file in files:
            _check_png_header(file)
        images = np.stack([_decode_png(file) for file in files])
    logger.info("read %d unlabeled images from %s", len(images), spec)
    return images


def source_signature(spec: str | None) -> str | None:
    """A cheap digest of the source's file names, sizes and mtimes, for cache keys.

    A cache keyed on the spec string alone would serve a stale pool after the files changed; this
    notices without reading the pixels. A missing path gives a digest too (ingest reports it).
    """
    if spec is None:
        return None
    kind, path = parse_unlabeled_source(spec)
    if kind == "png-dir" and path.is_dir():
        entries = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png")
    else:
        entries = [path]
    digest = hashlib.sha256(kind.encode())
    for entry in entries:
        stat = entry.stat() if entry.exists() else None
        digest.update(f"\n{entry.name}:{stat and stat.st_size}:{stat and stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]
