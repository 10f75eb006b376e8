"""Accepted samples staged on disk between the quality check and publish.

The quality stage appends each chunk's accepted rows (pixels, label, judge confidence) as one
row group of a zstd Parquet file as they pass, and publish reads them back in batches, so
neither holds the whole set. The file appears under its final name only once complete
(temp file, fsync, ``os.replace``): a killed run leaves no half file for publish to take.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gan_core.imaging import as_4d
from gan_core.io.fsutil import fsync_dir

STAGED_FILE = "accepted.parquet"
_SHAPE_KEY = b"image_shape"
# Raw pixels, not PNG: staging is internal, and publish encodes each row once, as before.
_COMPRESSION = "zstd"


class StagingError(ValueError):
    """A staged file is missing or not one this module wrote."""


def _schema(image_shape: tuple[int, int, int]) -> pa.Schema:
    return pa.schema(
        [
            pa.field("pixels", pa.binary(int(np.prod(image_shape)))),
            pa.field("label", pa.int64()),
            pa.field("judge_confidence", pa.float32()),
        ],
        metadata={_SHAPE_KEY: json.dumps(list(image_shape)).encode()},
    )


class AcceptedRowsWriter:
    """Appends accepted rows to ``path`` chunk by chunk; use as a context manager.

    Args:
        path: The final file; written under a hidden temporary name until the block ends cleanly.
        image_shape: (H, W, C) of every image.
    """

    def __init__(self, path: Path, image_shape: tuple[int, int, int]):
        self.path = Path(path)
        self.image_shape = tuple(int(side) for side in image_shape)
        self.rows = 0
        self._temporary = self.path.with_name(f".{self.path.name}.tmp.{uuid.uuid4().hex}")
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> "AcceptedRowsWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self._temporary, _schema(self.image_shape), compression=_COMPRESSION)
        return self

    def write(self, images: np.ndarray, labels: np.ndarray, confidences: np.ndarray) -> None:
        """Appends one chunk's accepted rows (uint8 (n, H, W, C), labels, float confidences)."""
        images = np.ascontiguousarray(as_4d(images), dtype=np.uint8)
        if images.shape[1:] != self.image_shape:
            raise StagingError(
                f"staged images must be (n, {', '.join(map(str, self.image_shape))}) uint8, got {images.shape}"
            )
        count = len(images)
        if count == 0:
            return
        pixels = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(int(np.prod(self.image_shape))), count, [None, pa.py_buffer(images.tobytes())]
        )
        table = pa.Table.from_arrays(
            [pixels, pa.array(labels, pa.int64()), pa.array(np.asarray(confidences, np.float32), pa.float32())],
            schema=self._writer.schema,
        )
        self._writer.write_table(table)
        self.rows += count

    def __exit__(self, kind, value, traceback) -> None:
        try:
            self._writer.close()
            if kind is None:
                with open(self._temporary, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(self._temporary, self.path)
                fsync_dir(self.path.parent)
        finally:
            self._temporary.unlink(missing_ok=True)


def _open(path: Path) -> tuple[pq.ParquetFile, tuple[int, int, int]]:
    path = Path(path)
    if not path.is_file():
        raise StagingError(f"{path} not found: run the quality check first, it stages the accepted rows there")
    staged = pq.ParquetFile(path)
    metadata = staged.schema_arrow.metadata or {}
    if _SHAPE_KEY not in metadata:
        raise StagingError(
            f"{path} is not a staged-rows file written by gan_core.quality.staging; run the quality check again"
        )
    return staged, tuple(json.loads(metadata[_SHAPE_KEY]))


def staged_image_shape(path: Path) -> tuple[int, int, int]:
    """Returns the (H, W, C) of the images ``path`` holds, from its schema.

    Raises:
        StagingError: the file is missing or not a staged-rows file.
    """
    return _open(path)[1]


def staged_rows(path: Path) -> int:
    """Returns how many accepted rows ``path`` holds, from its footer.

    Raises:
        StagingError: the file is missing or not a staged-rows file.
    """
    return _open(path)[0].metadata.num_rows


def iter_staged(path: Path, batch_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yields (images uint8 (n, H, W, C), labels int64, confidences float32) in batches of at most ``batch_rows``.

    Raises:
        StagingError: the file is missing or not a staged-rows file.
    """
    staged, image_shape = _open(path)
    size = int(np.prod(image_shape))
    for batch in staged.iter_batches(batch_size=batch_rows):
        pixels = batch.column("pixels")
        flat = np.frombuffer(pixels.buffers()[1], dtype=np.uint8)[
            pixels.offset * size : (pixels.offset + len(pixels)) * size
        ]
        yield (
            flat.reshape(len(pixels), *image_shape).copy(),
            batch.column("label").to_numpy(zero_copy_only=False).astype(np.int64),
            batch.column("judge_confidence").to_numpy(zero_copy_only=False).astype(np.float32),
        )
