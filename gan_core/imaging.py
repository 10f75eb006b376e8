"""Image arrays, PNG encoding and sample grids shared by every stage.

Every stage holds images as uint8 ``(N, H, W, C)`` with ``C`` 1 (grayscale) or 3 (RGB):
:func:`check_images` is the one place that enforces it, accepting ``(N, H, W)`` as grayscale.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
from PIL import Image

# Channel counts the project handles: grayscale and RGB.
CHANNELS = (1, 3)
# Square image sides every stage is built for (README "Bring your own images").
MIN_SIDE, MAX_SIDE = 16, 64


def as_4d(images: np.ndarray) -> np.ndarray:
    """``images`` with a channel axis: (N, H, W) becomes (N, H, W, 1); 4-D arrays are unchanged."""
    array = np.asarray(images)
    return array[..., None] if array.ndim == 3 else array


def check_images(
    images: np.ndarray,
    what: str = "images",
    error: type[Exception] = ValueError,
    side: int | None = None,
    channels: int | None = None,
) -> np.ndarray:
    """Returns ``images`` as uint8 (N, H, W, C), C in (1, 3); (N, H, W) is taken as grayscale.

    The one image check of the project: every stage passes its own error class and a name for
    the array, so the message says which input is wrong and how to fix it.

    Args:
        images: The array to check.
        what: Its name in the message, e.g. "training images" or "parts[1].images".
        error: The exception class to raise.
        side: Required height and width; None accepts any.
        channels: Required channel count; None accepts 1 or 3.

    Raises:
        error: not uint8, not (N, H, W) / (N, H, W, C), a channel count other than 1 or 3, or
            not ``side`` x ``side`` / ``channels``.
    """
    array = as_4d(images)
    shape = "(N, H, W, C)" if side is None else f"(N, {side}, {side}, {channels or 'C'})"
    if array.dtype != np.uint8:
        raise error(
            f"{what} must be uint8 of shape {shape}, got {array.shape} {array.dtype}; "
            "convert generator output with gan_core.imaging.to_uint8 first"
        )
    if array.ndim != 4 or array.shape[-1] not in CHANNELS:
        raise error(
            f"{what} must have shape {shape} with C 1 (grayscale) or 3 (RGB), got {array.shape}; "
            "pass a stack of images, one per row"
        )
    if side is not None and array.shape[1:3] != (side, side):
        raise error(
            f"{what} must be {side}x{side}, got {array.shape[1]}x{array.shape[2]}; resize them to {side}x{side}"
        )
    if channels is not None and array.shape[-1] != channels:
        raise error(f"{what} must have {channels} channel(s), got {array.shape[-1]}; convert them first")
    return array


def check_labels(
    labels: np.ndarray, count: int, num_classes: int, what: str = "labels", error: type[Exception] = ValueError
) -> np.ndarray:
    """Returns ``labels`` as int64 after checking length, integer dtype and range.

    Args:
        labels: The class indices to check.
        count: How many there must be (one per image).
        num_classes: Labels must lie in 0..num_classes-1.
        what: Its name in the message.
        error: The exception class to raise.

    Raises:
        error: wrong length, not integers, or outside 0..num_classes-1.
    """
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != count or (count and not np.issubdtype(array.dtype, np.integer)):
        raise error(
            f"{what} must be an integer array of shape ({count},), one class index per image, "
            f"got {array.shape} {array.dtype}"
        )
    array = array.astype(np.int64, copy=False)
    if count and (array.min() < 0 or array.max() >= num_classes):
        raise error(
            f"{what} range {array.min()}..{array.max()} is outside 0..{num_classes - 1} ({num_classes} classes); "
            f"labels must lie in [0, {num_classes - 1}]: fix the labels or the number of classes"
        )
    return array


# zlib level 1 with no PNG row filter: on MNIST digits 5x faster than Pillow's default encoder
# and 5 % smaller (benchmarks/png_encode.py); filters only pay off on smooth photographs.
PNG_COMPRESS_LEVEL = 1
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types by channel count: 0 is grayscale, 2 is RGB.
_PNG_COLOUR_TYPE = {1: 0, 3: 2}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def encode_pngs(images: np.ndarray, level: int = PNG_COMPRESS_LEVEL) -> list[bytes]:
    """Encodes uint8 images (N, H, W, C) as 8-bit grayscale (C=1) or RGB (C=3) PNG bytes, one per image.

    (N, H, W) is taken as grayscale. The header is built once per batch and each image is one
    zlib call, which is what makes this several times faster than an encoder object per image.
    """
    images = check_images(images, "images to encode")
    count, height, width, channels = images.shape
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPE[channels], 0, 0, 0)
    head = _PNG_SIGNATURE + _png_chunk(b"IHDR", header)
    tail = _png_chunk(b"IEND", b"")
    # Every scanline starts with its filter type; 0 (none) keeps the pixels as they are.
    scanlines = np.zeros((count, height, width * channels + 1), dtype=np.uint8)
    scanlines[:, :, 1:] = images.reshape(count, height, width * channels)
    return [head + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + tail for rows in scanlines]


def encode_png(image: np.ndarray) -> bytes:
    """Encodes one uint8 image (H, W), (H, W, 1) or (H, W, 3) as PNG bytes."""
    array = np.asarray(image)
    return encode_pngs((array[..., None] if array.ndim == 2 else array)[None])[0]


def decode_png(data: bytes, channels: int | None = None) -> np.ndarray:
    """Decodes PNG bytes to a uint8 (H, W, C) array.

    Args:
        data: The PNG file's bytes.
        channels: 1 or 3 to convert to grayscale or RGB; None keeps grayscale as 1 channel and
            turns any other mode into RGB.
    """
    with Image.open(io.BytesIO(data)) as image:
        if channels is None:
            channels = 1 if image.mode in ("1", "L", "LA", "I", "I;16") else 3
        return as_4d(np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)[None])[0]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Maps generator output in [-1, 1] to uint8 pixels in [0, 255], shape (N, H, W, C)."""
    array = as_4d(np.asarray(images, dtype=np.float32))
    return np.clip(np.rint((array + 1.0) * 127.5), 0, 255).astype(np.uint8)


def tile_grid(images: np.ndarray, columns: int, padding: int = 2) -> np.ndarray:
    """Tiles (N, H, W, C) uint8 images row-major into one (rows*H, columns*W, C) image."""
    images = as_4d(images)
    count, height, width, channels = images.shape
    rows = max(1, -(-count // columns))
    grid = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), dtype=np.uint8
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def class_grid(images: np.ndarray, labels: np.ndarray, num_classes: int, per_class: int) -> np.ndarray:
    """Builds a grid (H', W', C) with one row per class holding up to ``per_class`` of its images."""
    images = as_4d(images)
    labels = np.asarray(labels)
    rows = []
    for label in range(num_classes):
        picked = images[labels == label][:per_class]
        row = np.zeros((per_class, *images.shape[1:]), dtype=np.uint8)
        row[: len(picked)] = picked
        rows.append(row)
    return tile_grid(np.concatenate(rows), columns=per_class)


class FirstPerClass:
    """Keeps the first ``per_class`` images of each class that a stream brings, for sample grids.

    Args:
        num_classes: Number of classes.
        per_class: Images to keep per class.
        image_shape: (H, W, C) of the images (a class nothing arrived for stays blank).
    """

    def __init__(self, num_classes: int, per_class: int, image_shape: tuple[int, int, int]):
        self.num_classes, self.per_class, self.image_shape = num_classes, per_class, tuple(image_shape)
        self._kept: dict[int, list[np.ndarray]] = {label: [] for label in range(num_classes)}

    def add(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Looks at one chunk; keeps what a class still lacks, in stream order."""
        labels = np.asarray(labels)
        for label in np.unique(labels):
            kept = self._kept[int(label)]
            missing = self.per_class - sum(len(block) for block in kept)
            if missing > 0:
                kept.append(as_4d(images)[labels == label][:missing])

    @property
    def count(self) -> int:
        """Images kept so far."""
        return sum(len(block) for blocks in self._kept.values() for block in blocks)

    def grid(self) -> np.ndarray:
        """The kept images as :func:`class_grid` lays them out: one row per class."""
        blocks = [(block, label) for label, kept in self._kept.items() for block in kept]
        images = np.concatenate([np.zeros((0, *self.image_shape), np.uint8)] + [block for block, _ in blocks])
        labels = np.concatenate([np.zeros(0, np.int64)] + [np.full(len(block), label) for block, label in blocks])
        return class_grid(images, labels, self.num_classes, self.per_class)


def png_data_uri(png: bytes) -> str:
    """Returns a ``data:image/png;base64,...`` URI for embedding a PNG in markdown or HTML."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of an (H, W) or (H, W, C) image so small grids stay legible in the UI."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
