"""Unlabeled image sources for the label-scarce pool: a folder of images, PNGs, or an IDX images file.

``unlabeled_source`` is one of:

- ``'folder:<directory>'``: every image file directly in it (any format Pillow reads, by suffix;
  not recursive; hidden names ignored, other files skipped and counted);
- ``'png-dir:<directory>'``: the same, limited to ``*.png``;
- ``'idx-images:<file>'``: an MNIST-style IDX images file, gzip or raw, with no labels file.

Images of any size and mode are converted to the labeled data's geometry by the rules of
:mod:`gan_core.data.images` (center crop and Lanczos resize to its side, then its channel count).
:func:`check_unlabeled_source` is the cheap pre-flight a flow runs before any work (paths, emptiness,
each image's header); :func:`read_unlabeled_source` decodes everything.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from gan_core.data.folder import ImageFile, list_images, listing_digest
from gan_core.data.idx import read_idx_images
from gan_core.data.images import ImagePool, conform_arrays, decode_images, quiet_bomb_warnings
from gan_core.data.splits import DataError

logger = logging.getLogger(__package__)

_KINDS = ("folder", "png-dir", "idx-images")


def parse_unlabeled_source(spec: str) -> tuple[str, Path]:
    """Splits ``'folder:<path>'``, ``'png-dir:<path>'`` or ``'idx-images:<path>'`` into (kind, absolute path).

    Raises:
        DataError: any other form.
    """
    kind, separator, raw = str(spec).partition(":")
    if not separator or kind not in _KINDS or not raw.strip():
        raise DataError(
            f"unknown unlabeled_source {spec!r}: use 'folder:<directory of images>', 'png-dir:<directory of PNGs>' "
            "or 'idx-images:<IDX images file>'"
        )
    return kind, Path(raw).expanduser().resolve()


def _image_files(kind: str, directory: Path) -> tuple[list[ImageFile], int]:
    """(the source's image files, how many other entries were skipped)."""
    if not directory.is_dir():
        raise DataError(
            f"unlabeled_source directory {directory} does not exist or is not a directory; "
            f"pass '{kind}:<existing directory of images>'"
        )
    listing = list_images(directory, recursive=False)
    files = [file for file in listing.files if kind == "folder" or file.relative.lower().endswith(".png")]
    skipped = listing.skipped + len(listing.files) - len(files)
    wanted = "image" if kind == "folder" else ".png"
    if not files:
        raise DataError(
            f"unlabeled_source directory {directory} holds no {wanted} files ({skipped} other entries); put the "
            f"images directly in it or point {kind}: at the directory that has them"
        )
    return files, skipped


def _idx_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            f"unlabeled_source file {path} does not exist or is not a file; pass "
            "'idx-images:<an MNIST-style IDX images file, .gz or raw>'"
        )
    return path


def _read_idx_pool(path: Path) -> np.ndarray:
    images = read_idx_images(_idx_file(path))
    if len(images) == 0:
        raise DataError(f"{path}: the IDX images file holds no images; use one with at least one image")
    return images


def check_unlabeled_source(spec: str) -> None:
    """The cheap pre-flight: the path exists, holds images, and every image header is readable.

    An IDX file is read whole (it is a single fast read); pixel data of image files is only decoded
    at ingest, where sizes and modes are converted.

    Raises:
        DataError: naming the file or directory and the fix.
    """
    kind, path = parse_unlabeled_source(spec)
    if kind == "idx-images":
        _read_idx_pool(path)
        return
    paths = [file.path for file in _image_files(kind, path)[0]]
    with ImagePool() as pool, quiet_bomb_warnings():
        pool.headers(paths, paths)


def read_unlabeled_source(spec: str, image_shape: tuple[int, int, int]) -> np.ndarray:
    """Reads every image of an unlabeled source as uint8 (N, H, W, C) in the labeled data's ``image_shape``.

    Raises:
        DataError: a path is missing, a directory holds no images, or a file is unreadable.
    """
    side, width, channels = (int(value) for value in image_shape)
    if side != width:
        raise DataError(f"image_shape {tuple(image_shape)} is not square; pass the labeled data's (H, W, C)")
    kind, path = parse_unlabeled_source(spec)
    if kind == "idx-images":
        (images,) = conform_arrays([(_read_idx_pool(path), str(path))], side, channels)
    else:
        files, skipped = _image_files(kind, path)
        if skipped:
            logger.info("unlabeled_source %s: skipped %d entries that are not %s files", path, skipped, kind)
        paths = [file.path for file in files]
        images = decode_images(paths, paths, side, channels)
    logger.info("read %d unlabeled images from %s as %dx%dx%d", len(images), spec, side, side, channels)
    return images


def source_signature(spec: str | None) -> str | None:
    """A digest of the source's file names, sizes and mtimes, for cache keys (no pixel is read).

    A cache keyed on the spec string alone would serve a stale pool after the files changed; this
    notices without reading the pixels. A missing path gives a digest too (ingest reports it).
    """
    if spec is None:
        return None
    kind, path = parse_unlabeled_source(spec)

    def files() -> Iterator[ImageFile]:
        if kind == "idx-images":
            stat = os.stat(path)
            yield ImageFile(str(path), path.name, stat.st_size, stat.st_mtime_ns)
        else:
            yield from _image_files(kind, path)[0]

    return listing_digest(f"unlabeled-{kind}", files)
