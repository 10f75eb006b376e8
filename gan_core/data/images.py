"""One image in, one canonical uint8 ``(side, side, C)`` row out: Pillow decoding, conversion and geometry.

Every route that decodes or resizes images (``folder:``, ``parquet:``, ``tfds:``, IDX and the sample
when ``image_size`` or ``channels`` is set, and the unlabeled pool) goes through this module, so one
set of rules holds everywhere.

Conversion of one image, in this order:

1. Pillow opens the file (any format it reads: PNG, JPEG, BMP, WebP, TIFF, GIF, PNM, TGA). Only the
   first frame of an animated or multi-page file is used.
2. Decompression bombs: ``width * height`` from the header, before any pixel is decoded, must not
   exceed ``PIL.Image.MAX_IMAGE_PIXELS``; a larger image is a :class:`DataError` naming the file.
3. EXIF orientation is applied (``ImageOps.exif_transpose``); unreadable EXIF counts as no
   orientation. (A PNG's size is read before its pixels, so an ``eXIf`` chunk after the image data
   is only seen at decode time.)
4. The mode becomes 8-bit grayscale ``L`` or ``RGB``:

   - ``L`` and ``RGB`` stay as they are; ``1`` (1-bit) maps 0 to 0 and 1 to 255.
   - ``I;16*`` and ``I`` (16/32-bit integer grayscale) are clipped to 0..65535 and scaled to 8 bits,
     ``round(v / 257)``, so 65535 is 255.
   - ``F`` (float): an image whose maximum is at most 1.0 is taken as 0..1 and scaled by 255, any
     other is clipped to 0..255; NaN is 0.
   - Palette (``P``, ``PA``): ``L`` when every palette entry is gray (r = g = b), else ``RGB``;
     palette transparency becomes alpha.
   - Alpha (``LA``, ``RGBA``, ``PA``, palette transparency) is composited on black:
     ``round(c * a / 255)``. Premultiplied ``La`` / ``RGBa`` just drop alpha.
   - ``RGBX`` drops its padding; ``CMYK``, ``YCbCr``, ``HSV`` become ``RGB`` by Pillow's converter
     (no ICC colour management: embedded profiles are ignored).

   The grayscale family is ``1``, ``L``, ``LA``, ``La``, ``I``, ``I;16*``, ``F`` and gray palettes.
5. Channels: 3 from a grayscale image replicates it; 1 from ``RGB`` is Pillow's ITU-R 601-2 luma,
   ``L = R * 299/1000 + G * 587/1000 + B * 114/1000``. Without a ``channels`` setting the data gets
   1 channel if every image is of the grayscale family, else 3.
6. Size: with ``image_size`` N, a non-square image is center-cropped to its largest square, then
   every image not already NxN is resized to NxN with Lanczos (``Image.resize``, after the crop,
   so the cut-off borders never bleed into the edges). Without it the
   data keeps its size, which must be uniform, square and 16-64 px; otherwise a one-line
   :class:`DataError` names the size (or two files of different sizes) and ``image_size``.

Lists of 2,048 images or more are decoded by worker processes, one per core
(:class:`ImagePool`, ``gan_core.data._decode_worker``), each image written straight into one
preallocated array, so peak memory is that array plus a few chunks. Processes, not threads: a
small image's decode is mostly Python-level Pillow work that holds the GIL, so on 60k small PNGs
threads ran at about half the speed of a serial loop while processes beat it
(``benchmarks/ingest.py``; results in ``benchmarks/results/ingest/``).
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import subprocess
import sys
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gan_core.data.splits import DataError
from gan_core.imaging import MAX_SIDE, MIN_SIDE, as_4d

logger = logging.getLogger(__name__)

# File names that count as images (lower-cased suffix); any other file is skipped and counted.
IMAGE_SUFFIXES = frozenset(
    ".png .jpg .jpeg .jpe .jfif .bmp .dib .gif .webp .tif .tiff .ppm .pgm .pbm .pnm .tga".split()
)
SIZE_FIX = "set image_size (--image-size N, 16-64) to center-crop and resize every image to NxN"

# An image is a file path (str) or the encoded file's bytes (Parquet, tfds).
ImageItem = str | bytes

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_EXIF_ORIENTATION = 0x0112
_ORIENTATIONS_SWAPPING_SIDES = frozenset({5, 6, 7, 8})
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError, Image.DecompressionBombError)

# Below this many images a worker pool costs more to start than it saves.
PARALLEL_MIN_IMAGES = 2048
# The engine an ImagePool() uses: chosen by benchmarks/ingest.py, which sets it to compare engines.
DEFAULT_ENGINE = "processes"
_CHUNK = 512


@dataclass(frozen=True)
class Header:
    """What an image's header says, before its pixels are decoded: the size after EXIF orientation."""

    width: int
    height: int
    gray: bool  # of the grayscale family (module docstring, rule 4)


@dataclass(frozen=True)
class Geometry:
    """The one form every decoded image takes: ``side`` x ``side`` x ``channels``.

    ``fit`` crops and resizes any other size to ``side`` (``image_size`` is set, or a pool is
    matched to the labeled data); without it an image of another size is an error.
    """

    side: int
    channels: int
    fit: bool

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.side, self.side, self.channels)


def is_image_name(name: str) -> bool:
    """Whether a file name has an image suffix (case-insensitive) and is not hidden."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


# ---------------------------------------------------------------------------------------------
# One image


def _unreadable(name: str, item: ImageItem, error: BaseException) -> DataError:
    empty = (len(item) == 0) if isinstance(item, bytes) else (os.path.isfile(item) and os.path.getsize(item) == 0)
    problem = "is empty (0 bytes)" if empty else f"cannot be decoded ({type(error).__name__}: {error})"
    return DataError(f"{name}: {problem}; the file is truncated or not an image: re-export it or remove it")


def _bomb(name: str, width: int, height: int, limit: int) -> DataError:
    return DataError(
        f"{name}: {width}x{height} is {width * height:,} pixels, above Pillow's decompression-bomb limit "
        f"PIL.Image.MAX_IMAGE_PIXELS = {limit:,}; shrink the image or remove it"
    )


def open_image(item: ImageItem, name: str) -> Image.Image:
    """Opens an image lazily (header only) and refuses decompression bombs before decoding.

    Raises:
        DataError: not an image, empty, or above ``PIL.Image.MAX_IMAGE_PIXELS`` pixels.
    """
    try:
        image = Image.open(io.BytesIO(item) if isinstance(item, bytes) else item)
    except Image.DecompressionBombError as error:
        raise DataError(
            f"{name}: {error} (PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,}); shrink the image or remove it"
        ) from error
    except _DECODE_ERRORS as error:
        raise _unreadable(name, item, error) from error
    limit = Image.MAX_IMAGE_PIXELS
    width, height = image.size
    if limit is not None and width * height > limit:
        image.close()
        raise _bomb(name, width, height, limit)
    return image


def _may_have_orientation(image: Image.Image) -> bool:
    # EXIF rides in ``info`` (JPEG, WebP, PNG before its pixels) or, for TIFF, in the tags. Asking
    # Pillow otherwise costs a whole decode for a PNG and a parse per image for everything else.
    return "exif" in image.info or image.format == "TIFF"


def _orientation(image: Image.Image) -> int:
    if not _may_have_orientation(image):
        return 1
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except (*_DECODE_ERRORS, TypeError, KeyError):
        return 1


def _is_gray(image: Image.Image) -> bool:
    if image.mode in _GRAY_MODES:
        return True
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette("RGB") or [0, 0, 0], dtype=np.uint8).reshape(-1, 3)
        return bool(np.all(palette == palette[:, :1]))
    return False


def read_header(item: ImageItem, name: str) -> Header:
    """Reads an image's size (after EXIF orientation) and family without decoding its pixels.

    Palette images are the exception: their palette is read to tell gray from color.

    Raises:
        DataError: not an image, empty, truncated before its header ends, or a decompression bomb.
    """
    with open_image(item, name) as image:
        try:
            width, height = image.size
            if _orientation(image) in _ORIENTATIONS_SWAPPING_SIDES:
                width, height = height, width
            return Header(width, height, _is_gray(image))
        except _DECODE_ERRORS as error:
            raise _unreadable(name, item, error) from error


def _composite_on_black(image: Image.Image) -> Image.Image:
    array = np.asarray(image, dtype=np.uint16)
    color, alpha = array[..., :-1], array[..., -1:]
    blended = ((color * alpha + 127) // 255).astype(np.uint8)
    return Image.fromarray(blended[..., 0] if blended.shape[-1] == 1 else blended)


def _to_8bit(image: Image.Image, gray: bool) -> Image.Image:
    """``image`` as 8-bit ``L`` or ``RGB`` by the module docstring's rule 4."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in image.info
        return _to_8bit(image.convert(("LA" if alpha else "L") if gray else ("RGBA" if alpha else "RGB")), gray)
    if mode in ("LA", "RGBA"):
        return _composite_on_black(image)
    if mode in ("La", "RGBa"):  # already premultiplied: composited on black
        return Image.fromarray(np.asarray(image)[..., 0] if mode == "La" else np.asarray(image)[..., :3])
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I"):
        wide = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
        return Image.fromarray(((wide + 128) // 257).astype(np.uint8))
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0)
        if values.size and values.max() <= 1.0:
            values = values * 255.0
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    return image.convert("RGB")


def _fit(image: Image.Image, side: int) -> Image.Image:
    """Center-crops ``image`` to its largest square, then resizes that to ``side`` with Lanczos.

    Cropped first, not resized through a box as ``ImageOps.fit`` does: its filter reads pixels
    outside the box, so the cut-off borders would bleed into the edges.
    """
    width, height = image.size
    square = min(width, height)
    if width != height:
        left, top = (width - square) // 2, (height - square) // 2
        image = image.crop((left, top, left + square, top + square))
    return image if square == side else image.resize((side, side), Image.Resampling.LANCZOS)


def convert_into(image: Image.Image, geometry: Geometry, name: str, row: np.ndarray, gray: bool | None = None) -> bool:
    """Converts a decoded, oriented image to ``geometry`` and writes it into ``row`` (side, side, C).

    Returns:
        Whether the image is of the grayscale family.

    Raises:
        DataError: without ``geometry.fit``, the image is not ``side`` x ``side``.
    """
    gray = _is_gray(image) if gray is None else gray
    image = _to_8bit(image, gray)
    if geometry.channels == 1 and image.mode == "RGB":
        image = image.convert("L")
    if image.size != (geometry.side, geometry.side):
        if not geometry.fit:
            raise DataError(
                f"{name}: is {image.size[0]}x{image.size[1]} but the other images are "
                f"{geometry.side}x{geometry.side}; {SIZE_FIX}"
            )
        image = _fit(image, geometry.side)
    pixels = np.asarray(image)
    # An L image fills every channel: (side, side, 1) broadcasts over C = 1 or 3.
    row[...] = pixels[..., None] if pixels.ndim == 2 else pixels
    return gray


def decode_into(item: ImageItem, name: str, geometry: Geometry, row: np.ndarray) -> bool:
    """Decodes one image, converts it to ``geometry`` and writes it into ``row``.

    Returns:
        Whether the image is of the grayscale family.

    Raises:
        DataError: naming the file: unreadable, truncated, empty, a decompression bomb, or (without
            ``geometry.fit``) of another size.
    """
    with open_image(item, name) as image:
        try:
            image.load()
            if _may_have_orientation(image):
                try:
                    ImageOps.exif_transpose(image, in_place=True)
                except (*_DECODE_ERRORS, TypeError, KeyError):
                    pass  # unreadable EXIF: the module docstring's rule 3 takes it as no orientation
            return convert_into(image, geometry, name, row)
        except DataError:
            raise
        except _DECODE_ERRORS as error:
            raise _unreadable(name, item, error) from error


# ---------------------------------------------------------------------------------------------
# Geometry


def check_side(width: int, height: int, where: str) -> int:
    """Returns the side of data kept at its own size, which must be square and 16-64 px.

    Raises:
        DataError: naming the size, ``where`` it was found and ``image_size``.
    """
    if width != height or not MIN_SIDE <= width <= MAX_SIDE:
        shape = "not square" if width != height else f"outside {MIN_SIDE}-{MAX_SIDE} px"
        raise DataError(
            f"{where}: images are {width}x{height} ({shape}); only square sides of {MIN_SIDE}-{MAX_SIDE} px are "
            f"used as they are: {SIZE_FIX}"
        )
    return width


def resolve_geometry(
    headers: np.ndarray, names: Sequence[str], image_size: int | None, channels: int | None
) -> Geometry:
    """The geometry of a list of images by the rules of the module docstring (5 and 6).

    Args:
        headers: One row per image: (width, height, 1 if of the grayscale family else 0), as
            :meth:`ImagePool.headers` returns them.
        names: How errors name each image.
        image_size: Crop and resize every image to this side; None keeps their one size.
        channels: 1 or 3; None decides from the families.

    Raises:
        DataError: without ``image_size``, the images differ in size (naming two files) or their one
            size is not square and 16-64 px.
    """
    headers = np.asarray(headers).reshape(-1, 3)
    if not len(headers):
        raise DataError("no images to resolve a geometry from")
    resolved_channels = channels or (1 if headers[:, 2].all() else 3)
    if image_size is not None:
        return Geometry(image_size, resolved_channels, fit=True)
    width, height = (int(value) for value in headers[0, :2])
    other = np.flatnonzero((headers[:, 0] != width) | (headers[:, 1] != height))
    if other.size:
        index = int(other[0])
        raise DataError(
            f"images differ in size: {names[0]} is {width}x{height} but {names[index]} is "
            f"{headers[index, 0]}x{headers[index, 1]}; {SIZE_FIX}"
        )
    return Geometry(check_side(width, height, names[0]), resolved_channels, fit=False)


# ---------------------------------------------------------------------------------------------
# Many images: a header pass, then a decode pass into one preallocated array


@contextmanager
def quiet_bomb_warnings() -> Iterator[None]:
    """Keeps Pillow's DecompressionBombWarning off the console: the bomb becomes a DataError instead.

    The filter is process-wide while the block runs, so worker threads see it too.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _headers_chunk(items: Sequence[ImageItem], names: Sequence[str]) -> np.ndarray:
    """(width, height, gray) rows: a compact array, cheap to send back from a worker process."""
    headers = [read_header(item, name) for item, name in zip(items, names)]
    return np.array([(header.width, header.height, header.gray) for header in headers], np.int64).reshape(-1, 3)


def _decode_chunk(items: Sequence[ImageItem], names: Sequence[str], geometry: Geometry) -> tuple[bytes, bool]:
    """A worker process's task: decodes a chunk, returns (its pixels, whether any image was in color)."""
    block = np.empty((len(items), *geometry.shape), np.uint8)
    gray = [decode_into(item, name, geometry, row) for item, name, row in zip(items, names, block)]
    return block.tobytes(), not all(gray)


def _decode_chunk_into(
    items: Sequence[ImageItem], names: Sequence[str], geometry: Geometry, rows: np.ndarray
) -> tuple[None, bool]:
    """A thread's (or this thread's) task: decodes a chunk straight into ``rows`` of the shared array."""
    gray = [decode_into(item, name, geometry, row) for item, name, row in zip(items, names, rows)]
    return None, not all(gray)


# What a worker process may be asked to run (gan_core.data._decode_worker).
WORKER_TASKS: dict[str, Callable] = {"headers": _headers_chunk, "decode": _decode_chunk}


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _WorkerProcess:
    """One ``gan_core.data._decode_worker`` process and its two pipes."""

    def __init__(self):
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        env = dict(os.environ)
        # The worker imports gan_core from where this process did, installed or not.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gan_core.data._decode_worker", str(task_read), str(result_write)],
            pass_fds=(task_read, result_write),
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C stops the parent, which then closes the pipes and the worker
        )
        os.close(task_read)
        os.close(result_write)
        self.tasks, self.results = os.fdopen(task_write, "wb"), os.fdopen(result_read, "rb")

    def send(self, name: str, args: tuple) -> None:
        pickle.dump((name, args), self.tasks, protocol=pickle.HIGHEST_PROTOCOL)
        self.tasks.flush()

    def receive(self):
        try:
            status, value = pickle.load(self.results)
        except EOFError:
            raise RuntimeError(
                f"image decoding worker {self.process.pid} exited with code {self.process.wait()}"
            ) from None
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        # Closing both ends first: a worker blocked writing a result gets EPIPE instead of hanging.
        for stream in (self.tasks, self.results):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class ImagePool:
    """Runs header and decode tasks over chunks of images: on worker processes, threads, or inline.

    ``processes`` (the default) starts ``workers`` interpreters running
    :mod:`gan_core.data._decode_worker` once, on the first list large enough to gain from them
    (:data:`PARALLEL_MIN_IMAGES`), and keeps them until :meth:`close`. Each has one chunk in flight
    at a time, so results come back in order and neither side can block the other on a full pipe.

    Args:
        engine: 'processes', 'threads' or 'serial'; None is :data:`DEFAULT_ENGINE`.
        workers: Pool size; None uses every core this process may use.
    """

    def __init__(self, engine: str | None = None, workers: int | None = None):
        engine = engine or DEFAULT_ENGINE
        if engine not in ("processes", "threads", "serial"):
            raise ValueError(f"engine must be 'processes', 'threads' or 'serial', got {engine!r}")
        self.engine, self.workers = engine, workers or default_workers()
        self._processes: list[_WorkerProcess] = []
        self._threads: ThreadPoolExecutor | None = None

    def __enter__(self) -> "ImagePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stops the workers, if any were started."""
        for worker in self._processes:
            worker.close()
        self._processes = []
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
            self._threads = None

    def _parallel(self, count: int) -> bool:
        return self.engine != "serial" and self.workers > 1 and count >= PARALLEL_MIN_IMAGES

    def _on_processes(self, name: str, bounds: list[tuple[int, int]], args: Callable) -> Iterator[tuple[int, object]]:
        if not self._processes:
            self._processes = [_WorkerProcess() for _ in range(self.workers)]
        queue = iter(bounds)
        in_flight: deque[tuple[int, _WorkerProcess]] = deque()
        try:
            for worker, (start, stop) in zip(self._processes, queue):
                worker.send(name, args(start, stop))
                in_flight.append((start, worker))
            while in_flight:
                start, worker = in_flight.popleft()
                result = worker.receive()
                following = next(queue, None)
                if following is not None:
                    worker.send(name, args(*following))
                    in_flight.append((following[0], worker))
                yield start, result
        finally:
            if in_flight:  # an error or an early stop: unread results would answer the next map's tasks
                self.close()

    def _on_threads(
        self, task: Callable, bounds: list[tuple[int, int]], args: Callable
    ) -> Iterator[tuple[int, object]]:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="decode")
        futures = [(start, self._threads.submit(task, *args(start, stop))) for start, stop in bounds]
        for start, future in futures:
            yield start, future.result()

    def _map(self, name: str, local_task: Callable, count: int, args: Callable) -> Iterator[tuple[int, object]]:
        """Yields (first row, result) per chunk in order: ``WORKER_TASKS[name]`` on processes, else ``local_task``."""
        bounds = [(start, min(start + _CHUNK, count)) for start in range(0, count, _CHUNK)]
        if not self._parallel(count):
            return ((start, local_task(*args(start, stop))) for start, stop in bounds)
        if self.engine == "processes":
            return self._on_processes(name, bounds, args)
        return self._on_threads(local_task, bounds, args)

    def headers(self, items: Sequence[ImageItem], names: Sequence[str]) -> np.ndarray:
        """Reads every image's header, in order: rows of (width, height, 1 if grayscale family else 0)."""
        chunks = self._map("headers", _headers_chunk, len(items), lambda a, b: (items[a:b], names[a:b]))
        return np.concatenate([np.zeros((0, 3), np.int64)] + [chunk for _, chunk in chunks])

    def decode(self, items: Sequence[ImageItem], names: Sequence[str], geometry: Geometry, out: np.ndarray) -> bool:
        """Decodes ``items`` into ``out`` (len(items), side, side, C), row i from item i.

        Returns:
            Whether any image was in color.
        """
        any_color = False
        on_processes = self.engine == "processes" and self._parallel(len(items))
        if on_processes:
            chunks = self._map("decode", _decode_chunk, len(items), lambda a, b: (items[a:b], names[a:b], geometry))
        else:
            chunks = self._map(
                "decode", _decode_chunk_into, len(items), lambda a, b: (items[a:b], names[a:b], geometry, out[a:b])
            )
        for start, (block, color) in chunks:
            if block is not None:  # a worker process's pixels: copied into place, chunk by chunk
                rows = len(block) // out[0].size
                out[start : start + rows] = np.frombuffer(block, np.uint8).reshape(rows, *geometry.shape)
            any_color |= color
        return any_color


@contextmanager
def pool_or_own(pool: ImagePool | None) -> Iterator[ImagePool]:
    """Yields ``pool``, or a new :class:`ImagePool` that is closed when the block ends."""
    if pool is not None:
        yield pool
        return
    with ImagePool() as own:
        yield own


def decode_images(
    items: Sequence[ImageItem],
    names: Sequence[str],
    image_size: int | None,
    channels: int | None,
    *,
    geometry: Geometry | None = None,
    pool: ImagePool | None = None,
) -> np.ndarray:
    """Decodes images into one uint8 (N, side, side, C) array by the module docstring's rules.

    Args:
        items: File paths or encoded bytes, in the order of the result's rows.
        names: How errors name each item (a path, or 'file.parquet row 7').
        image_size: Crop and resize every image to this side; None keeps a uniform 16-64 px size.
        channels: 1 or 3; None decides from the images' family.
        geometry: A fixed target (e.g. a pool matched to the labeled data); skips the header pass.
        pool: The workers to use; None makes one for this call.

    Raises:
        DataError: naming the file and the fix, before anything is written.
    """
    if not items:
        raise DataError("no images to decode")
    with pool_or_own(pool) as workers, quiet_bomb_warnings():
        if geometry is None and image_size is not None and channels is not None:
            geometry = Geometry(image_size, channels, fit=True)  # nothing to learn from the headers
        if geometry is None:
            geometry = resolve_geometry(workers.headers(items, names), names, image_size, channels)
        out = np.empty((len(items), *geometry.shape), np.uint8)
        workers.decode(items, names, geometry, out)
    return out


# ---------------------------------------------------------------------------------------------
# Arrays that are already decoded (IDX, the bundled sample, tfds tensors)


def conform_arrays(
    parts: Sequence[tuple[np.ndarray, str]], image_size: int | None, channels: int | None
) -> list[np.ndarray]:
    """Brings decoded uint8 arrays (N, H, W[, C]) to one geometry by the module docstring's rules.

    Arrays already in that geometry are returned as they are (no copy).

    Args:
        parts: (array, where it came from) pairs, e.g. the train and test IDX files.
        image_size: As in :func:`decode_images`.
        channels: As in :func:`decode_images`.

    Raises:
        DataError: without ``image_size``, the parts differ in size (naming two) or are not square
            and 16-64 px.
    """
    arrays = [as_4d(array) for array, _ in parts]
    names = [name for _, name in parts]
    headers = np.array([(array.shape[2], array.shape[1], array.shape[3] == 1) for array in arrays], np.int64)
    geometry = resolve_geometry(headers, names, image_size, channels)
    return [_conform(array, geometry, name) for array, name in zip(arrays, names)]


def _conform(array: np.ndarray, geometry: Geometry, name: str) -> np.ndarray:
    if array.shape[1:] == geometry.shape:
        return array
    if array.shape[1:3] == (geometry.side, geometry.side) and array.shape[3] == 1:
        return np.repeat(array, geometry.channels, axis=3)  # gray to RGB: nothing to resample
    out = np.empty((len(array), *geometry.shape), np.uint8)
    for index, (image, row) in enumerate(zip(array, out)):
        pixels = image[..., 0] if image.shape[-1] == 1 else image
        convert_into(Image.fromarray(pixels), geometry, f"{name} image {index}", row, gray=image.shape[-1] == 1)
    return out
