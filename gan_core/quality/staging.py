"""Accepted samples staged on disk between the quality check and publish.

The quality stage appends each chunk's accepted rows (pixels, label, judge confidence) as one
row group of a zstd Parquet file as they pass, and publish reads them back in batches, so
neither holds the whole set. The file appears under its final name only once complete
(temp file, fsync, ``os.replace``): a killed run leaves no half file for publish to take.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gan_core.io.fsutil import fsync_dir

STAGED_FILE = "accepted.parquet"
# Raw pixels, not PNG: staging is internal, and publish encodes each row once, as before.
_COMPRESSION = "zstd"


class StagingError(ValueError):
    """A staged file is missing or not one this module wrote."""


def _schema(side: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("pixels", pa.binary(side * side)),
            pa.field("label", pa.int64()),
            pa.field("judge_confidence", pa.float32()),
        ],
        metadata={b"image_side": str(side).encode()},
    )


class AcceptedRowsWriter:
    """Appends accepted rows to ``path`` chunk by chunk; use as a context manager.

    Args:
        path: The final file; written under a hidden temporary name until the block ends cleanly.
        side: Image height and width.
    """

    def __init__(self, path: Path, side: int):
        self.path = Path(path)
        self.side = side
        self.rows = 0
        self._temporary = self.path.with_name(f".{self.path.name}.tmp.{uuid.uuid4().hex}")
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> "AcceptedRowsWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self._temporary, _schema(self.side), compression=_COMPRESSION)
        return self

    def write(self, images: np.ndarray, labels: np.ndarray, confidences: np.ndarray) -> None:
        """Appends one chunk's accepted rows (uint8 (n, side, side), labels, float confidences)."""
        images = np.ascontiguousarray(images, dtype=np.uint8)
        if images.ndim != 3 or images.shape[1:] != (self.side, self.side):
            raise StagingError(f"staged images must be (n, {self.side}, {self.side}) uint8, got {images.shape}")
        count = len(images)
        if count == 0:
            return
        pixels = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(self.side * self.side), count, [None, pa.py_buffer(images.tobytes())]
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


def _open(path: Path) -> tuple[pq.ParquetFile, int]:
    path = Path(path)
    if not path.is_file():
        raise StagingError(f"{path} not found: run the quality check first, it stages the accepted rows there")
    staged = pq.ParquetFile(path)
    metadata = staged.schema_arrow.metadata or {}
    if b"image_side" not in metadata:
        raise StagingError(
            f"{path} is not a staged-rows file written by gan_core.quality.staging; run the quality check again"
        )
    return staged, int(metadata[b"image_side"])


def staged_rows(path: Path) -> int:
    """Returns how many accepted rows ``path`` holds, from its footer.

    Raises:
        StagingError: the file is missing or not a staged-rows file.
    """
    return _open(path)[0].metadata.num_rows


def iter_staged(path: Path, batch_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yields (images uint8 (n, side, side), labels int64, confidences float32) in batches of at most ``batch_rows``.

    Raises:
        StagingError: the file is missing or not a staged-rows file.
    """
    staged, side = _open(path)
    for batch in staged.iter_batches(batch_size=batch_rows):
        pixels = batch.column("pixels")
        size = side * side
        flat = np.frombuffer(pixels.buffers()[1], dtype=np.uint8)[
            pixels.offset * size : (pixels.offset + len(pixels)) * size
        ]
        yield (
            flat.reshape(len(pixels), side, side).copy(),
            batch.column("label").to_numpy(zero_copy_only=False).astype(np.int64),
            batch.column("judge_confidence").to_numpy(zero_copy_only=False).astype(np.float32),
        )
